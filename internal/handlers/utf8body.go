package handlers

import (
	"io"
	"unicode/utf8"

	"mailsync/internal/apperr"
)

// utf8Body checks a request body for valid UTF-8 while it is read, so a
// JSON body is checked and decoded in one pass, without a second copy of it
// in memory. A read that meets invalid UTF-8 (or a body ending inside a
// character) returns an apperr Malformed and none of its bytes: a JSON
// decoder that finds a whole value in the bytes of a failed read uses the
// value and drops the error.
type utf8Body struct {
	io.ReadCloser
	tail [utf8.UTFMax]byte // an incomplete character carried to the next read
	nt   int
}

var errBodyNotUTF8 = apperr.New(apperr.Malformed, "the body is not valid UTF-8")

func (u *utf8Body) Read(p []byte) (int, error) {
	n, err := u.ReadCloser.Read(p)
	b := p[:n]
	for u.nt > 0 && len(b) > 0 { // complete the carried character
		u.tail[u.nt] = b[0]
		u.nt, b = u.nt+1, b[1:]
		if utf8.FullRune(u.tail[:u.nt]) {
			if !utf8.Valid(u.tail[:u.nt]) {
				return 0, errBodyNotUTF8
			}
			u.nt = 0
		}
	}
	keep := len(b) // b[keep:] is an incomplete character at the end
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				keep = i
			}
			break
		}
	}
	if !utf8.Valid(b[:keep]) {
		return 0, errBodyNotUTF8
	}
	u.nt += copy(u.tail[u.nt:], b[keep:])
	if err == io.EOF && u.nt > 0 {
		return 0, errBodyNotUTF8
	}
	return n, err
}
