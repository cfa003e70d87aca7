package reconcile

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"hash"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"

	"mailsync/internal/mongostore"
)

// Documents whose raw size is at least streamAbove are hashed without
// copying their bodies: the rest of the document is decoded, and the
// bodies' JSON is written to the hash straight from the raw document in
// pieces of streamChunk bytes. A body of 15 MB would otherwise be copied
// into a string and then into a JSON buffer that grows by doubling: five
// times its size at once, per hasher.
var (
	streamAbove = 1 << 20
	streamChunk = 64 << 10
)

// The placeholders the bodies are decoded as; the canonical JSON of the
// rest is split at them.
const (
	textMark = "\x00mailsync text body 7f3a9c\x00"
	htmlMark = "\x00mailsync html body 7f3a9c\x00"
)

// summarizeLarge is summarize for a large document; ok is false when the
// document does not have the expected shape (the caller decodes it whole).
func summarizeLarge(raw bson.Raw) (docSum, bool) {
	elems, err := bsoncore.Document(raw).Elements()
	if err != nil {
		return docSum{}, false
	}
	var text, html []byte
	rest := make([][]byte, 0, len(elems))
	for _, e := range elems {
		switch e.Key() {
		case "text_body", "html_body":
			v := e.Value()
			s, ok := rawString(v)
			if !ok {
				return docSum{}, false
			}
			if e.Key() == "text_body" {
				text = s
			} else {
				html = s
			}
		default:
			rest = append(rest, e)
		}
	}
	var d mongostore.Document
	if err := bson.Unmarshal(bsoncore.BuildDocument(nil, rest...), &d); err != nil {
		return docSum{}, false
	}
	c := d.Content()
	c.TextBody, c.HTMLBody = textMark, htmlMark
	canon := c.Canonical()
	tm, _ := json.Marshal(textMark)
	hm, _ := json.Marshal(htmlMark)
	ti, hi := bytes.Index(canon, tm), bytes.Index(canon, hm)
	if ti < 0 || hi < 0 || bytes.Count(canon, tm) != 1 || bytes.Count(canon, hm) != 1 {
		return docSum{}, false
	}
	h := sha256.New()
	parts := []struct {
		at   int
		mark []byte
		body []byte
	}{{ti, tm, text}, {hi, hm, html}}
	if hi < ti {
		parts[0], parts[1] = parts[1], parts[0]
	}
	pos := 0
	for _, p := range parts {
		h.Write(canon[pos:p.at])
		writeJSONString(h, p.body)
		pos = p.at + len(p.mark)
	}
	h.Write(canon[pos:])
	sum := hex.EncodeToString(h.Sum(nil))
	return docSum{id: d.ID, version: d.Version, hash: sum, mix: mix(d.ID, d.Version, sum)}, true
}

// rawString returns the bytes of a BSON string value without copying them.
func rawString(v bsoncore.Value) ([]byte, bool) {
	if v.Type != bsoncore.TypeString || len(v.Data) < 5 {
		return nil, false
	}
	n := int(binary.LittleEndian.Uint32(v.Data))
	if n != len(v.Data)-4 || v.Data[len(v.Data)-1] != 0 {
		return nil, false
	}
	return v.Data[4 : len(v.Data)-1], true
}

// writeJSONString writes s as encoding/json encodes a string, in pieces
// cut at rune starts: its escaping is per character, so the pieces' JSON
// without their quotes is the JSON of the whole.
func writeJSONString(h hash.Hash, s []byte) {
	h.Write([]byte{'"'})
	for len(s) > 0 {
		n := min(len(s), streamChunk)
		for n < len(s) && n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		if n == 0 {
			n = min(len(s), streamChunk)
		}
		b, _ := json.Marshal(string(s[:n]))
		h.Write(b[1 : len(b)-1])
		s = s[n:]
	}
	h.Write([]byte{'"'})
}
