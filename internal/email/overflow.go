package email

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// An email's MongoDB document must stay under MongoDB's 16 MiB limit. When
// text_body, html_body and the headers together pass OverflowBytes, each of
// them larger than OverflowFieldBytes moves out of the document into a blob
// (its bytes named by their SHA-256), and the document keeps the reference.
// PostgreSQL keeps every field whole. The decision depends on the content
// alone, so both stores agree on it.
const (
	OverflowBytes      = 15 << 20
	OverflowFieldBytes = 1 << 20
)

// The fields that can overflow.
const (
	FieldTextBody = "text_body"
	FieldHTMLBody = "html_body"
	FieldHeaders  = "headers"
)

// Overflowed is one field moved out of the MongoDB document.
type Overflowed struct {
	Field  string // FieldTextBody, FieldHTMLBody or FieldHeaders
	Data   []byte // the field's bytes: the text, or the headers' JSON
	SHA256 string // lowercase hex SHA-256 of Data
}

// Overflow returns the fields of c that move out of its MongoDB document,
// in the order text_body, html_body, headers; none for almost every email.
func (c *Content) Overflow() []Overflowed {
	n := len(c.TextBody) + len(c.HTMLBody)
	hdr := 0
	for k, vs := range c.Headers {
		hdr += len(k) + 4
		for _, v := range vs {
			hdr += len(v) + 3
		}
	}
	// JSON escapes can grow a header up to 6x: only then encode to be exact.
	if n+6*hdr+2 <= OverflowBytes {
		return nil
	}
	var headers []byte
	if c.Headers != nil {
		headers, _ = json.Marshal(c.Headers) // string slices: cannot fail
	}
	if n+len(headers) <= OverflowBytes {
		return nil
	}
	var out []Overflowed
	for _, f := range []struct {
		name string
		data []byte
	}{{FieldTextBody, []byte(c.TextBody)}, {FieldHTMLBody, []byte(c.HTMLBody)}, {FieldHeaders, headers}} {
		if len(f.data) > OverflowFieldBytes {
			sum := sha256.Sum256(f.data)
			out = append(out, Overflowed{Field: f.name, Data: f.data, SHA256: hex.EncodeToString(sum[:])})
		}
	}
	return out
}

// OverflowMarker is the value that stands for a moved field in the
// canonical JSON (and so in the content hash): "blob:sha256:<hex>" for a
// body; the headers become {":blob": ["sha256:<hex>"]}.
func OverflowMarker(sha string) string { return "blob:sha256:" + sha }

// headersMarkerKey is the header name of the headers' marker; ':' cannot
// occur in a header name, so no real header collides with it.
const headersMarkerKey = ":blob"

// HeadersMarker is the headers value that stands for moved headers.
func HeadersMarker(sha string) map[string][]string {
	return map[string][]string{headersMarkerKey: {"sha256:" + sha}}
}

// withMarkers returns c with its overflowing fields replaced by markers.
func (c Content) withMarkers() Content {
	for _, o := range c.Overflow() {
		switch o.Field {
		case FieldTextBody:
			c.TextBody = OverflowMarker(o.SHA256)
		case FieldHTMLBody:
			c.HTMLBody = OverflowMarker(o.SHA256)
		case FieldHeaders:
			c.Headers = HeadersMarker(o.SHA256)
		}
	}
	return c
}
