package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/textproto"
	"strings"

	"github.com/jhillyerd/enmime/v2"
	"github.com/jhillyerd/enmime/v2/mediatype"

	"mailsync/internal/email"
)

// Part is one attachment of a parsed raw message: its metadata as stored
// and its decoded bytes (the bytes its SHA256 is taken over).
type Part struct {
	email.Attachment
	Content Bytes
}

// collect fills t's text, HTML and attachments from its part tree and
// records the defects enmime found. The text of a multipart/alternative is
// its first text/plain part; otherwise it is every text/plain part joined
// with "\n--\n". A part without a usable Content-Type is text/plain (RFC
// 2045). The HTML is the first text/html part. Every other leaf part is an
// attachment, in document order. cut reports that the message was cut at
// MaxPartLines, so an unclosed boundary is no defect of its own.
func (t *tree) collect(d defects, cut bool) {
	var leaves []*enmime.Part
	walk(t.root, func(p *enmime.Part) {
		partDefects(p, d, cut)
		if p.FirstChild == nil {
			leaves = append(leaves, p)
		}
	})
	if t.root.FirstChild == nil {
		t.collectSingle()
		return
	}
	var text strings.Builder
	texts := 0
	alternative := t.root.ContentType == "multipart/alternative"
	for _, p := range leaves {
		switch {
		case isBodyText(p) && !isHTML(p):
			if alternative && texts > 0 {
				continue
			}
			if texts > 0 {
				text.WriteString("\n--\n")
			}
			text.Write(p.Content)
			texts++
		case isBodyText(p):
			if t.html == "" {
				t.html = string(p.Content)
			}
		case strings.HasPrefix(p.ContentType, "multipart/"):
			// a section kept whole: it stays in the raw message
		default:
			t.parts = append(t.parts, t.newPart(p))
		}
	}
	t.text = text.String()
}

// collectSingle fills t from a root without parts: text, HTML, or (for a
// binary type or an attachment disposition) a single attachment.
func (t *tree) collectSingle() {
	p := t.root
	ct := p.ContentType
	textual := ct == "" || ct == "text/plain" || ct == "text/html" || strings.HasPrefix(ct, "multipart/")
	switch {
	case !textual || p.Disposition == "attachment":
		t.parts = append(t.parts, t.newPart(p))
	case ct == "text/html":
		t.html = string(p.Content)
	default:
		t.text = string(p.Content)
	}
}

// isBodyText reports whether leaf p is text of the body: text/plain,
// text/html or no usable type, not an attachment and without a file name.
func isBodyText(p *enmime.Part) bool {
	ct := p.ContentType
	return (ct == "" || ct == "text/plain" || ct == "text/html") && p.Disposition != "attachment" && p.FileName == ""
}

func isHTML(p *enmime.Part) bool { return p.ContentType == "text/html" }

// newPart is the attachment of leaf p.
func (t *tree) newPart(p *enmime.Part) Part {
	x, ok := t.lazy[p]
	if !ok {
		x = BytesOf(p.Content)
		sum := sha256.Sum256(p.Content)
		x.sum = hex.EncodeToString(sum[:])
	}
	return Part{Attachment: email.Attachment{
		Filename: p.FileName, ContentType: p.ContentType, SizeBytes: x.size, SHA256: x.sum,
	}, Content: x}
}

// walk calls fn for every part under root, root included, in document
// order, without recursion.
func walk(root *enmime.Part, fn func(*enmime.Part)) {
	stack := []*enmime.Part{root}
	for len(stack) > 0 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		fn(p)
		if p.NextSibling != nil && p != root {
			stack = append(stack, p.NextSibling)
		}
		if p.FirstChild != nil {
			stack = append(stack, p.FirstChild)
		}
	}
}

// partDefects records the defects of part p: its own Content-Type and
// Content-Disposition, and the problems enmime noted while reading it.
func partDefects(p *enmime.Part, d defects, cut bool) {
	h := textproto.MIMEHeader(p.Header)
	if ct := h.Get("Content-Type"); ct != "" {
		mt, params, _, err := mediatype.Parse(ct)
		switch {
		case err != nil || mt == "":
			d.add(DefectContentTypeInvalid)
		case strings.HasPrefix(mt, "multipart/") && params["boundary"] == "":
			d.add(DefectMultipartNoBoundaryParam)
		}
	}
	if cd := h.Get("Content-Disposition"); cd != "" {
		if mt, _, _, err := mediatype.Parse(cd); err != nil || mt == "" {
			d.add(DefectContentDispositionInvalid)
		}
	}
	for _, e := range p.Errors {
		switch e.Name {
		case enmime.ErrorMalformedHeader:
			if strings.HasPrefix(e.Detail, "Content-Type header") {
				d.add(DefectContentTypeInvalid)
			} else {
				d.add(DefectHeaderLineMalformed)
			}
		case enmime.ErrorMissingBoundary:
			if !cut {
				d.add(DefectMultipartBoundaryMissing)
			}
		case enmime.ErrorMalformedBase64, enmime.ErrorContentEncoding:
			d.add(DefectTransferEncodingInvalid)
		case enmime.ErrorCharsetConversion:
			d.add(DefectCharsetInvalid)
		case enmime.ErrorMalformedChildPart:
			if strings.HasPrefix(e.Detail, "partial content") {
				d.add(DefectTransferEncodingInvalid)
			} else {
				d.add(DefectPartHeaderMalformed)
			}
		}
	}
}

// cutAtLine returns b up to the start of its (n+1)th line beginning with
// "--", and whether it was cut there.
func cutAtLine(b []byte, n int) ([]byte, bool) {
	seen, at := 0, 0
	for at < len(b) {
		if bytes.HasPrefix(b[at:], []byte("--")) {
			if seen == n {
				return b[:at], true
			}
			seen++
		}
		i := bytes.IndexByte(b[at:], '\n')
		if i < 0 {
			break
		}
		at += i + 1
	}
	return b, false
}

// separateHeaderless inserts an empty line after every delimiter line of
// the given boundaries that is followed by neither a header field nor an
// empty line, so that a part without a header block is read as a part
// without header fields (text) rather than failing the whole message.
func separateHeaderless(b []byte, boundaries []string) []byte {
	var out bytes.Buffer
	out.Grow(len(b) + 64)
	rest := b
	for len(rest) > 0 {
		line, next := nextLine(rest)
		out.Write(rest[:len(rest)-len(next)])
		if isDelimiter(line, boundaries) && len(next) > 0 {
			following, _ := nextLine(next)
			if len(following) > 0 && !isFieldLine(following) && following[0] != ' ' && following[0] != '\t' {
				out.WriteString("\r\n")
			}
		}
		rest = next
	}
	return out.Bytes()
}

// isDelimiter reports whether line is "--" and one of boundaries, followed
// only by blanks (not a closing delimiter).
func isDelimiter(line []byte, boundaries []string) bool {
	if !bytes.HasPrefix(line, []byte("--")) {
		return false
	}
	for _, bd := range boundaries {
		if rest, ok := bytes.CutPrefix(line[2:], []byte(bd)); ok && len(bytes.TrimRight(rest, " \t")) == 0 {
			return true
		}
	}
	return false
}

// collector records the problems enmime finds in a header block on a part.
type collector struct{ p *enmime.Part }

func (c *collector) AddError(name, format string, args ...any) {
	c.p.Errors = append(c.p.Errors, &enmime.Error{Name: name, Severe: true})
}

func (c *collector) AddWarning(name, format string, args ...any) {
	c.p.Errors = append(c.p.Errors, &enmime.Error{Name: name})
}
