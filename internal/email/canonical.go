package email

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// Canonical returns the canonical JSON of the normalised content: the bytes
// the content hash is taken over. Callers that need both the hash and a
// request fingerprint compute it once and pass it to HashOf.
// Fields that overflow the MongoDB document (see Overflow) are replaced by
// their markers, so the hash is the same whichever store it is computed
// from.
func (c Content) Canonical() []byte {
	c.Normalize()
	c = c.withMarkers()
	// Normalize replaced nil slices on the copy; the headers map is shared but
	// only nil values are replaced, which does not change the encoding.
	b, err := json.Marshal(struct {
		Content
		ReceivedAt string `json:"received_at"`
	}{c, c.ReceivedAt.Format("2006-01-02T15:04:05.000Z")})
	if err != nil {
		// Content holds only strings, numbers and slices of them.
		panic("email: marshal content: " + err.Error())
	}
	return b
}

// HashOf returns the content hash of canonical bytes from Canonical.
func HashOf(canonical []byte) string {
	sum := sha256.Sum256(canonical)
	return hex.EncodeToString(sum[:])
}
