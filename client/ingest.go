package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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
// when no new email was stored: the key was used before (the answer
// carries Idempotent-Replayed: true), or the answer is 200 (an email the
// same request stored earlier).
type Ingested struct {
	Email  Email
	Replay bool
}

// IngestJSON stores one email given as JSON under the Idempotency-Key key
// (required: ErrNoKey when empty). Retrying with the same key and body never
// stores a second email. Errors are *ProblemError for mailsync's refusals
// (400, 422, ...) or a *RetryError once the context ends.
func (c *Client) IngestJSON(ctx context.Context, key string, email EmailInput) (*Ingested, error) {
	if key == "" {
		return nil, ErrNoKey
	}
	params := &CreateEmailParams{IdempotencyKey: key}
	return c.ingest(ctx, key, func() (*http.Request, error) { return NewCreateEmailRequest(c.base, params, email) })
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
	return c.IngestBody(ctx, key, BytesBody("message/rfc822", raw), env)
}

// Body is a request body the client can send more than once: Open returns
// a new reader of the same Size bytes for every attempt, so a big message
// is sent without a copy of it being made.
type Body struct {
	ContentType string // message/rfc822, or application/json for an email as JSON
	Size        int64
	Open        func() io.Reader
}

// BytesBody is the Body of b.
func BytesBody(contentType string, b []byte) Body {
	return Body{ContentType: contentType, Size: int64(len(b)), Open: func() io.Reader { return bytes.NewReader(b) }}
}

// IngestBody stores one email sent as b (a raw message, or an email already
// encoded as JSON) under the Idempotency-Key key (required: ErrNoKey when
// empty), with the envelope env (raw messages only). Errors are as
// IngestJSON's.
func (c *Client) IngestBody(ctx context.Context, key string, b Body, env Envelope) (*Ingested, error) {
	if key == "" {
		return nil, ErrNoKey
	}
	params := &CreateEmailParams{IdempotencyKey: key}
	if env.From != "" {
		params.MailsyncEnvelopeFrom = &env.From
	}
	if env.Mailbox != "" {
		params.MailsyncMailbox = &env.Mailbox
	}
	return c.ingest(ctx, key, func() (*http.Request, error) {
		req, err := NewCreateEmailRequestWithBody(c.base, params, b.ContentType, b.Open())
		if err != nil {
			return nil, err
		}
		req.ContentLength = b.Size
		for _, to := range env.To { // the header repeats, one recipient each
			req.Header.Add("Mailsync-Envelope-To", to)
		}
		return req, nil
	})
}

// ingest makes one ingest call and accepts only mailsync's answer to it:
// JSON holding an email with a positive id, with the request's
// Idempotency-Key echoed.
func (c *Client) ingest(ctx context.Context, key string, build func() (*http.Request, error)) (*Ingested, error) {
	var out Ingested
	_, err := c.call(ctx, build, func(a *answer) error {
		var e Email
		switch {
		case a.status != http.StatusCreated && a.status != http.StatusOK:
			return a.wrong("not 201 or 200")
		case MediaType(a.header) != "application/json":
			return a.wrong("not JSON")
		case json.Unmarshal(a.body, &e) != nil || e.Id < 1:
			return a.wrong("not an email (no email id)")
		case a.header.Get("Idempotency-Key") != key:
			return a.wrong("the Idempotency-Key is not echoed")
		}
		out.Email = e
		out.Replay = a.status == http.StatusOK || a.header.Get("Idempotent-Replayed") == "true"
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// IngestBatch stores up to 500 emails in one request, each under its own
// Idempotency-Key, and returns one result per item in request order. A
// retried batch never stores an item twice. Each item's result has its own
// status: 201 stored, 200 a replay, or an error whose status and problem
// type RetryableStatus judges (resend those items).
func (c *Client) IngestBatch(ctx context.Context, items []BatchItem) (*BatchResponse, error) {
	var out BatchResponse
	_, err := c.call(ctx, func() (*http.Request, error) {
		return NewCreateEmailBatchRequest(c.base, BatchRequest{Emails: items})
	}, func(a *answer) error {
		if err := decodeInto(&out)(a); err != nil {
			return err
		}
		if len(out.Results) != len(items) {
			return a.wrong(fmt.Sprintf("%d results for %d emails", len(out.Results), len(items)))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}
