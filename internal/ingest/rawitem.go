package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"time"

	"mailsync/internal/email"
)

// NewRawItem parses the raw message raw delivered with envelope env and
// returns the item that stores it (Key still to be set): its content, its
// blobs (the raw message and the attachments' bytes), and the fingerprint
// that tells a retry of the same delivery from another request under the
// same key. now stands for the time the key is first seen
// when the message carries no date. The errors are ParseRaw's. The HTTP
// path (message/rfc822) and the LMTP listener both build their items here,
// so the same delivery is the same request through either. auth says which
// sender-authentication verdicts the email records (nil: none).
func NewRawItem(raw []byte, env Envelope, now time.Time, auth *AuthConfig) (Item, error) {
	env, d := fitEnvelope(env)
	m, err := ParseRaw(raw, env, now)
	if err != nil {
		return Item{}, err
	}
	m.Content.ParseDefects = addDefects(m.Content.ParseDefects, d)
	auth.Apply(&m.Content, raw)
	return Item{Content: m.Content, ReceivedAtFirstSeen: m.Undated, Fingerprint: rawFingerprint(raw, m.Content),
		Blobs: RawBlobs(raw, m)}, nil
}

// rawFingerprint identifies a raw request: its bytes and, when one was sent,
// its envelope as stored (so "<a@b>" and "a@b" are the same request). A
// request without an envelope keeps the fingerprint of the bytes alone.
func rawFingerprint(raw []byte, c email.Content) string {
	if c.EnvelopeFrom == "" && len(c.EnvelopeTo) == 0 && c.Mailbox == "" {
		return Fingerprint(http.MethodPost, "/v1/emails", raw)
	}
	sum := sha256.Sum256(raw)
	canon, _ := json.Marshal(struct { // strings only: cannot fail
		Raw          string   `json:"raw_sha256"`
		EnvelopeFrom string   `json:"envelope_from"`
		EnvelopeTo   []string `json:"envelope_to"`
		Mailbox      string   `json:"mailbox"`
	}{hex.EncodeToString(sum[:]), c.EnvelopeFrom, c.EnvelopeTo, c.Mailbox})
	return Fingerprint(http.MethodPost, "/v1/emails", canon)
}
