package ingest

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"net/textproto"
	"strings"

	"github.com/jhillyerd/enmime/v2"
	"github.com/jhillyerd/enmime/v2/mediatype"
)

// Big part bodies are kept out of the MIME library. enmime reads a part a
// byte at a time and holds its decoded bytes next to the message, so a
// 20 MB attachment cost seconds of CPU and several copies of itself. The
// parser instead gives enmime a skeleton of the message in which the body
// of each big leaf part is one marker line, and takes the part's bytes from
// the message itself: a subslice for 7bit, 8bit and binary bodies, and a
// base64 decoder over the encoded text (read when the blob is stored) for
// base64 bodies. The result is the one enmime gives for the whole message:
// a body is elided only when enmime's reading of the skeleton proves it
// (each marker comes back as the whole content of exactly one leaf, with
// the transfer encoding and type the elision assumed), and only bodies
// whose decoding does not depend on how enmime splits them (no "--"
// anywhere, base64 of the plain alphabet only). Otherwise the whole
// message goes through enmime as before.

// elideMin is the smallest body that is elided.
const elideMin = 64 << 10

// elision is one body kept out of the skeleton.
type elision struct {
	start, end int    // the body in the input: its lines, up to the delimiter's line break
	content    []byte // what enmime would decode before charset conversion: the 7bit/8bit body, or the base64 text
	base64     bool
	marker     string // the line standing for it in the skeleton
	want       string // the content enmime reads from the marker
}

// markerNonce makes the markers of this process unguessable, so a message
// cannot name its own parts after them.
var markerNonce = func() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}()

// elide returns b with every leaf body of at least min bytes replaced by a
// marker line, and the bodies it replaced; nil when it replaced none.
func elide(b []byte, min int) ([]byte, []elision) {
	var els []elision
	pos := 0
	header := true // a header block starts at pos
	for pos < len(b) {
		if !header {
			line, next := nextLine(b[pos:])
			header = bytes.HasPrefix(line, []byte("--")) && len(next) > 0 && isFieldLine(firstLine(next))
			pos = len(b) - len(next)
			continue
		}
		header = false
		hdrEnd := headerEnd(b, pos)
		if hdrEnd < 0 {
			break
		}
		h, err := enmime.ReadHeader(bufio.NewReader(bytes.NewReader(b[pos:hdrEnd])), &collector{p: enmime.NewPart("")})
		bodyEnd := bodyEnd(b, hdrEnd)
		if err == nil && bodyEnd-hdrEnd >= min {
			if el, ok := elidable(textproto.MIMEHeader(h), b, hdrEnd, bodyEnd); ok {
				el.want = "mailsync.elided.part." + itoa(len(els)) + "." + markerNonce
				el.marker = el.want
				if el.base64 {
					el.marker = base64.StdEncoding.EncodeToString([]byte(el.want))
				}
				els = append(els, el)
			}
		}
		pos = bodyEnd
	}
	if len(els) == 0 {
		return b, nil
	}
	var out bytes.Buffer
	at := 0
	for _, el := range els {
		out.Write(b[at:el.start])
		out.WriteString(el.marker)
		if el.end < len(b) {
			out.WriteString("\r\n")
		}
		at = el.end
	}
	out.Write(b[at:])
	return out.Bytes(), els
}

// elidable reports whether the body b[start:end] of a part with header h
// can be elided, and how it decodes.
func elidable(h textproto.MIMEHeader, b []byte, start, end int) (elision, bool) {
	body := b[start:end]
	if bytes.Contains(body, []byte("--")) {
		return elision{}, false
	}
	mt, _, _, err := mediatype.Parse(h.Get("Content-Type"))
	if err != nil || strings.HasPrefix(mt, "multipart/") || strings.HasPrefix(mt, "message/") {
		return elision{}, false
	}
	content := body
	if end < len(b) { // the line break before the delimiter is the delimiter's
		content = bytes.TrimSuffix(content, []byte("\n"))
		content = bytes.TrimSuffix(content, []byte("\r"))
	}
	switch strings.ToLower(h.Get("Content-Transfer-Encoding")) {
	case "base64":
		if strings.HasPrefix(mt, "text/") || !cleanBase64(body) {
			return elision{}, false
		}
		return elision{start: start, end: end, content: content, base64: true}, true
	case "7bit", "8bit", "binary", "":
		return elision{start: start, end: end, content: content}, true
	}
	return elision{}, false
}

// cleanBase64 reports whether b holds only the base64 alphabet, padding and
// white space: what enmime's cleaner passes through or drops silently.
func cleanBase64(b []byte) bool {
	for _, c := range b {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/', c == '=',
			c == ' ', c == '\t', c == '\r', c == '\n':
		default:
			return false
		}
	}
	return true
}

// headerEnd returns the offset after the empty line that ends the header
// block starting at pos, or -1 when there is none.
func headerEnd(b []byte, pos int) int {
	for pos < len(b) {
		line, next := nextLine(b[pos:])
		pos = len(b) - len(next)
		if len(line) == 0 {
			return pos
		}
	}
	return -1
}

// bodyEnd returns the offset of the first line at or after pos that starts
// with "--", or len(b).
func bodyEnd(b []byte, pos int) int {
	for pos < len(b) {
		if bytes.HasPrefix(b[pos:], []byte("--")) {
			return pos
		}
		i := bytes.IndexByte(b[pos:], '\n')
		if i < 0 {
			return len(b)
		}
		pos += i + 1
	}
	return len(b)
}

func firstLine(b []byte) []byte {
	line, _ := nextLine(b)
	return line
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var d []byte
	for ; n > 0; n /= 10 {
		d = append([]byte{byte('0' + n%10)}, d...)
	}
	return string(d)
}
