package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
)

// Bytes is the decoded bytes of an attachment: held in memory, or decoded
// from the base64 text of the raw message each time they are read, so a
// big attachment is never held decoded.
type Bytes struct {
	data []byte // the bytes, when held
	b64  []byte // the base64 text they decode from, when not held
	size int64
	sum  string // lowercase hex SHA-256, when known
}

// BytesOf holds b.
func BytesOf(b []byte) Bytes { return Bytes{data: b, size: int64(len(b))} }

// Len is the number of bytes.
func (x Bytes) Len() int64 { return x.size }

// Reader reads the bytes.
func (x Bytes) Reader() io.Reader {
	if x.b64 == nil {
		return bytes.NewReader(x.data)
	}
	return io.LimitReader(&lenientBase64{dec: base64.NewDecoder(base64.RawStdEncoding, &base64Text{b: x.b64})}, x.size)
}

// read returns the bytes in memory.
func (x Bytes) read() []byte {
	if x.b64 == nil {
		return x.data
	}
	out := make([]byte, 0, x.size)
	b := bytes.NewBuffer(out)
	_, _ = b.ReadFrom(x.Reader()) // reading memory cannot fail
	return b.Bytes()
}

// decodeBase64 returns the bytes base64 text b decodes to, as enmime
// decodes a part (white space and '=' dropped, no padding needed; a
// dangling last character ends the bytes), with their size and SHA-256,
// and whether the text ended in such a character (partial).
func decodeBase64(b []byte) (x Bytes, partial bool) {
	h := sha256.New()
	dec := base64.NewDecoder(base64.RawStdEncoding, &base64Text{b: b})
	n, err := io.Copy(h, dec)
	var corrupt base64.CorruptInputError
	partial = errors.As(err, &corrupt)
	return Bytes{b64: b, size: n, sum: hex.EncodeToString(h.Sum(nil))}, partial
}

// base64Text reads b without white space and '=': the characters enmime's
// base64 cleaner drops silently (the text holds no others, see cleanBase64).
type base64Text struct{ b []byte }

func (r *base64Text) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && len(r.b) > 0 {
		c := r.b[0]
		r.b = r.b[1:]
		switch c {
		case ' ', '\t', '\r', '\n', '=':
		default:
			p[n] = c
			n++
		}
	}
	if n == 0 && len(r.b) == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// lenientBase64 ends the bytes where the decoder finds the text corrupt.
type lenientBase64 struct{ dec io.Reader }

func (r *lenientBase64) Read(p []byte) (int, error) {
	n, err := r.dec.Read(p)
	var corrupt base64.CorruptInputError
	if errors.As(err, &corrupt) {
		err = io.EOF
	}
	return n, err
}
