package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
)

// ErrNoKey is returned by IngestJSON when the Idempotency-Key is empty.
var ErrNoKey = errors.New("client: an Idempotency-Key is required")

// DeliveryKey is the Idempotency-Key of a raw delivery: "deliver-" and the
// hex SHA-256 of the message bytes and the recipients (sorted, each after a
// NUL byte). The same bytes to the same recipients always give the same
// key, so a retried delivery can never store a second email. `server
// deliver` and the LMTP listener use this key.
func DeliveryKey(raw []byte, recipients []string) string {
	rcpts := append([]string(nil), recipients...)
	sort.Strings(rcpts)
	h := sha256.New()
	h.Write(raw)
	for _, r := range rcpts {
		h.Write([]byte{0})
		h.Write([]byte(r))
	}
	return "deliver-" + hex.EncodeToString(h.Sum(nil))
}

// Envelope is the SMTP envelope of a raw message and the mailbox it is
// stored in; every field is optional.
type Envelope struct {
	From    string
	To      []string
	Mailbox string
}

// Ingested is the answer to an ingest: the stored email, and Replay true
// when the key was used before (the answer carries Idempotent-Replayed:
// true) and no new email was stored.
type Ingested struct {
	Email  Email
	Replay bool
}

// IngestJSON stores one email given as JSON under the Idempotency-Key key
// (required: ErrNoKey when empty). Retrying with the same key and body never
// stores a second email. Errors are *ProblemError for mailsync's refusals
// (400, 422, ...) or the connection error once the context ends.
func (c *Client) IngestJSON(ctx context.Context, key string, email EmailInput) (*Ingested, error) {
	if key == "" {
		return nil, ErrNoKey
	}
	params := &CreateEmailParams{IdempotencyKey: key}
	var out Ingested
	hdr, err := c.do(ctx, func() (*http.Request, error) {
		return NewCreateEmailRequest(c.base, params, email)
	}, &out.Email)
	if err != nil {
		return nil, err
	}
	out.Replay = hdr.Get("Idempotent-Replayed") == "true"
	return &out, nil
}

// IngestRaw stores the RFC 5322 message read from r (read whole, so every
// attempt sends the same bytes) with the envelope env. An empty key is
// replaced by DeliveryKey of the bytes and env.To. Errors are as IngestJSON's,
// or the read error of r.
func (c *Client) IngestRaw(ctx context.Context, key string, r io.Reader, env Envelope) (*Ingested, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("client: reading the message: %w", err)
	}
	if key == "" {
		key = DeliveryKey(raw, env.To)
	}
	params := &CreateEmailParams{IdempotencyKey: key}
	if env.From != "" {
		params.MailsyncEnvelopeFrom = &env.From
	}
	if env.Mailbox != "" {
		params.MailsyncMailbox = &env.Mailbox
	}
	var out Ingested
	hdr, err := c.do(ctx, func() (*http.Request, error) {
		req, err := NewCreateEmailRequestWithBody(c.base, params, "message/rfc822", bytes.NewReader(raw))
		if err != nil {
			return nil, err
		}
		for _, to := range env.To { // the header repeats, one recipient each
			req.Header.Add("Mailsync-Envelope-To", to)
		}
		return req, nil
	}, &out.Email)
	if err != nil {
		return nil, err
	}
	out.Replay = hdr.Get("Idempotent-Replayed") == "true"
	return &out, nil
}
