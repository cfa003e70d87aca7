package ingest

import (
	"bytes"
	"net/textproto"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/htmlindex"
)

// isFieldLine reports whether line (without its line break) starts a header
// field: a name of printable ASCII other than ':' that starts with a letter,
// optionally followed by blanks, then ':'. Requiring a letter first tells a
// header from JSON, prose or an mbox "From " line.
func isFieldLine(line []byte) bool {
	if len(line) == 0 || !isLetter(line[0]) {
		return false
	}
	for i := 1; i < len(line); i++ {
		switch c := line[i]; {
		case c == ':':
			return true
		case c == ' ' || c == '\t':
			rest := bytes.TrimLeft(line[i:], " \t")
			return len(rest) > 0 && rest[0] == ':'
		case c < 33 || c > 126:
			return false
		}
	}
	return false
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// nextLine splits b at its first line break: the line without its break
// (CR LF or LF) and the rest after it.
func nextLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil
	}
	line, rest = b[:i], b[i+1:]
	return bytes.TrimSuffix(line, []byte("\r")), rest
}

// prepareHeader makes the header block of raw start with a field, which the
// MIME library requires: lines before the first field (an mbox "From "
// line, text that is not a field) are dropped and a first field indented by
// blanks is unindented, each recorded as header_line_malformed. ok is false
// when the header block (the lines up to the first empty line) holds no
// field at all.
func prepareHeader(raw []byte, d defects) (out []byte, ok bool) {
	rest := raw
	for len(rest) > 0 {
		line, next := nextLine(rest)
		if len(bytes.TrimSpace(line)) == 0 {
			return raw, false // the header block ended without a field
		}
		if isFieldLine(line) {
			break
		}
		if trimmed := bytes.TrimLeft(line, " \t"); isFieldLine(trimmed) {
			d.add(DefectHeaderLineMalformed)
			rest = rest[len(line)-len(trimmed):]
			break
		}
		d.add(DefectHeaderLineMalformed)
		rest = next
	}
	if len(rest) == 0 {
		return raw, false
	}
	return rest, true
}

// fixHeaderBytes makes every value of h valid UTF-8: a value with raw
// 8-bit bytes that are not UTF-8 is decoded through charset (the message's
// declared charset) when that gives valid text, else each invalid byte is
// read as Latin-1. Such values are recorded as header_8bit.
func fixHeaderBytes(h textproto.MIMEHeader, charset string, d defects) {
	for name, values := range h {
		for i, v := range values {
			if utf8.ValidString(v) {
				continue
			}
			d.add(DefectHeader8bit)
			values[i] = decodeText(v, charset)
		}
		if !utf8.ValidString(name) { // the MIME library keeps only ASCII names; be safe
			delete(h, name)
			h[latin1(name)] = values
		}
	}
}

// decodeText returns s, which is not valid UTF-8, as UTF-8: decoded through
// charset when it is known and gives valid text, else with each invalid
// byte read as Latin-1.
func decodeText(s, charset string) string {
	cs := strings.ToLower(strings.TrimSpace(charset))
	if cs != "" && cs != "utf-8" && cs != "utf8" && cs != "us-ascii" {
		if enc, err := htmlindex.Get(cs); err == nil {
			if out, err := enc.NewDecoder().String(s); err == nil && utf8.ValidString(out) {
				return out
			}
		}
	}
	return latin1(s)
}

// latin1 keeps the valid UTF-8 sequences of s and reads every other byte as
// the Latin-1 character of the same code.
func latin1(s string) string {
	var b strings.Builder
	b.Grow(len(s) + len(s)/4)
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError && n <= 1 {
			b.WriteRune(rune(s[0]))
			s = s[1:]
			continue
		}
		b.WriteString(s[:n])
		s = s[n:]
	}
	return b.String()
}
