package ingest

import (
	"net/textproto"
	"strings"
	"unicode/utf8"

	"github.com/gogs/chardet"
	"github.com/jhillyerd/enmime/v2"
)

// resolve puts the elided bodies back into the tree enmime read from the
// skeleton: a leaf whose content is exactly one elision's marker gets that
// body's decoded bytes, as enmime would have decoded them from the whole
// message; base64 attachments are not decoded here but hashed, and kept as
// Bytes that decode on demand (t.lazy). ok is false when the tree does not
// prove the elisions right (a marker found in no leaf or in several, a
// transfer encoding or type other than the elision assumed, a charset
// conversion that is not the identity); the caller then parses the whole
// message.
func (t *tree) resolve(els []elision, d defects) bool {
	index := make(map[string]int, len(els))
	for i, el := range els {
		index[el.want] = i
	}
	found := make([]*enmime.Part, len(els))
	ok := true
	walk(t.root, func(p *enmime.Part) {
		if p.FirstChild != nil || len(p.Content) > 200 {
			return
		}
		if i, hit := index[string(p.Content)]; hit {
			if found[i] != nil {
				ok = false
			}
			found[i] = p
		}
	})
	if !ok {
		return false
	}
	for i, p := range found {
		if p == nil || !matches(p, &els[i]) {
			return false
		}
	}
	defects := defects{}
	for i, p := range found {
		el := &els[i]
		if !el.base64 {
			p.Content = el.content
			continue
		}
		x, partial := decodeBase64(el.content)
		if partial {
			defects.add(DefectTransferEncodingInvalid)
		}
		if p.ContentType == "" || strings.HasPrefix(p.ContentType, "multipart/") { // read as text
			p.Content = x.read()
			continue
		}
		p.Content = nil
		if t.lazy == nil {
			t.lazy = map[*enmime.Part]Bytes{}
		}
		t.lazy[p] = x
	}
	for code := range defects {
		d.add(code)
	}
	return true
}

// matches reports whether enmime read leaf p, which holds el's marker, as
// the elision assumed: the same transfer encoding, room for the warning of
// a corrupt base64 end, no charset conversion for base64 (not text/*) and
// an identity conversion for text in 7bit or 8bit.
func matches(p *enmime.Part, el *elision) bool {
	if len(p.Errors) >= maxPartErrors {
		return false
	}
	cte := strings.ToLower(textproto.MIMEHeader(p.Header).Get("Content-Transfer-Encoding"))
	text := strings.HasPrefix(p.ContentType, "text/")
	if el.base64 {
		return cte == "base64" && !text
	}
	switch cte {
	case "7bit", "8bit", "binary", "":
	default:
		return false
	}
	return !text || identityConversion(p, el.content)
}

// identityConversion reports whether enmime's charset conversion of text
// part p leaves content as it is: the declared charset when there is one,
// else the one detected with enough confidence, is UTF-8 (not converted),
// or an ASCII-compatible single-byte charset and content is ASCII.
func identityConversion(p *enmime.Part, content []byte) bool {
	charset := p.Charset // declared, or the root's default us-ascii; never detected from a marker
	if charset == "" {
		detector := chardet.NewTextDetector()
		if p.ContentType == "text/html" {
			detector = chardet.NewHtmlDetector()
		}
		cs, _ := detector.DetectBest(content)
		if cs == nil || cs.Confidence < 85 || utf8.RuneCount(content) < 100 {
			return true // enmime keeps the bytes as they are
		}
		charset = cs.Charset
	}
	cs := strings.ToLower(charset)
	if cs == "utf-8" {
		return true
	}
	return asciiCompatible(cs) && isASCII(content)
}

// asciiCompatible reports whether charset (lowercase) decodes every ASCII
// byte to itself and keeps no state between bytes.
func asciiCompatible(cs string) bool {
	switch {
	case cs == "us-ascii", cs == "ascii", cs == "koi8-r", cs == "koi8-u":
		return true
	case strings.HasPrefix(cs, "iso-8859-"):
		return true
	case strings.HasPrefix(cs, "windows-125") && len(cs) == len("windows-125x"):
		return true
	}
	return false
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}
