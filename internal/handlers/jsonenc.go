package handlers

import (
	"bytes"
	"encoding/json"
	"io"
)

// encodeJSON writes v as one line of JSON to w, keeping "<", ">" and "&" as
// themselves: Message-IDs and addresses are full of them, and every JSON
// response (the generated ones included, see api/templates) encodes this way.
func encodeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// marshalJSON is json.Marshal without HTML escaping (see encodeJSON).
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := encodeJSON(&buf, v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
