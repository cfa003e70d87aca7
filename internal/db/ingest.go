package db

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/jackc/pgx/v5"

	"mailsync/internal/db/gen"
	"mailsync/internal/email"
)

// The write path of emails: inserting new ones with their outbox records,
// finding the one stored under an idempotency key, and changing an email's
// placement under its row lock.

// NewEmail is an email to store with InsertEmails.
type NewEmail struct {
	// Content is normalised and carries the client id.
	Content email.Content
	// Hash is Content.Hash(), computed once by the caller.
	Hash string
	// Key is the idempotency key the email is stored under.
	Key string
	// Fingerprint identifies the request that stores it, so a retry after
	// the key's record expired is still recognised (FindEmailByKey).
	Fingerprint string
	// Trace is the W3C trace context of the request, stored with the
	// outbox record (its trace id with the email); empty: none.
	Trace TraceContext
}

// TraceContext is a W3C trace context as the traceparent and tracestate
// headers carry it; both empty when there is none (tracing was off).
type TraceContext struct {
	Parent string
	State  string
	// TraceID is the trace id Parent names (32 hex digits), or "".
	TraceID string
}

// InsertEmails inserts each email with the outbox record that carries it to
// MongoDB (maxRetries relay attempts), pipelined in one round trip, and
// returns the stored emails in the order given. An email whose client
// already stored one under the same key is not inserted: its entry has ID 0.
// The stored email is built from the content given and the columns the
// server set; the row is not read back. The error, if any, is the first
// statement's that failed, naming "insert email".
func (q *Queries) InsertEmails(ctx context.Context, emails []NewEmail, maxRetries int32) ([]email.Stored, error) {
	if len(emails) == 0 {
		return nil, nil
	}
	keys := make([]string, len(emails)) // the stored emails' IdempotencyKey point here
	params := make([]gen.InsertEmailParams, len(emails))
	for i := range emails {
		keys[i] = emails[i].Key
		params[i] = insertEmailParams(&emails[i].Content, emails[i].Hash, &keys[i], maxRetries)
		if emails[i].Fingerprint != "" {
			params[i].RequestFingerprint = &emails[i].Fingerprint
		}
		params[i].Traceparent, params[i].Tracestate = nonEmpty(emails[i].Trace.Parent), nonEmpty(emails[i].Trace.State)
		params[i].TraceID = nonEmpty(emails[i].Trace.TraceID)
	}
	stored := make([]email.Stored, len(emails))
	var firstErr error
	q.g.InsertEmail(ctx, params).QueryRow(func(i int, row gen.InsertEmailRow, err error) {
		if err != nil {
			if !errors.Is(err, pgx.ErrNoRows) && firstErr == nil {
				firstErr = err
			}
			return
		}
		stored[i] = email.Stored{
			Content: emails[i].Content, ID: row.ID, IdempotencyKey: &keys[i], Version: row.Version,
			ContentHash: emails[i].Hash, SyncStatus: row.SyncStatus, CreatedAt: row.CreatedAt, UpdatedAt: row.UpdatedAt,
		}
	})
	return stored, wrap("insert email", firstErr)
}

// insertEmailParams builds the insert of normalised content c, whose content
// hash is hash, under key.
func insertEmailParams(c *email.Content, hash string, key *string, maxRetries int32) gen.InsertEmailParams {
	headers, _ := json.Marshal(c.Headers)         // map of string slices: cannot fail
	attachments, _ := json.Marshal(c.Attachments) // plain structs: cannot fail
	auth := []byte("{}")
	if !c.AuthResults.Empty() {
		auth, _ = json.Marshal(c.AuthResults) // plain structs: cannot fail
	}
	return gen.InsertEmailParams{
		ClientID: c.ClientID, MessageID: c.MessageID, Mailbox: c.Mailbox, FromAddress: c.From,
		ToAddresses: c.To, CcAddresses: c.Cc, Subject: c.Subject, TextBody: c.TextBody,
		HtmlBody: c.HTMLBody, Headers: headers, Attachments: attachments, RawSizeBytes: c.RawSizeBytes,
		ReceivedAt: c.ReceivedAt, ContentHash: hash, IdempotencyKey: key, MaxRetries: maxRetries,
		EnvelopeFrom: c.EnvelopeFrom, EnvelopeTo: c.EnvelopeTo, MessageIDSource: c.MessageIDSource(),
		Incomplete: c.Incomplete, ParseDefects: c.ParseDefects, AuthResults: auth,
	}
}

// FindEmailByKey returns the email clientID stored under idempotency key
// (a tombstone if it was erased) and the fingerprint of the request that
// stored it ("" for emails stored before fingerprints were kept, and for
// tombstones), locked FOR SHARE until the transaction ends, so that an
// erasure waits for the transaction that reads it. ok is false when there
// is none. Other errors name "get email by idempotency key".
func (q *Queries) FindEmailByKey(ctx context.Context, clientID, key string) (e email.Stored, fingerprint string, ok bool, err error) {
	row, err := q.g.GetEmailByIdempotencyKey(ctx, gen.GetEmailByIdempotencyKeyParams{ClientID: clientID, IdempotencyKey: &key})
	if errors.Is(err, pgx.ErrNoRows) {
		return email.Stored{}, "", false, nil
	}
	if err != nil {
		return email.Stored{}, "", false, wrap("get email by idempotency key", err)
	}
	if row.RequestFingerprint != nil {
		fingerprint = *row.RequestFingerprint
	}
	e, err = emailFromRow(row)
	return e, fingerprint, err == nil, err
}

// EmailForReplay returns email id (a tombstone if it was erased) locked FOR
// SHARE until the transaction ends, so that an erasure waits for the replay
// that renders it. Errors: apperr NotFound; others name "get email for
// replay".
func (q *Queries) EmailForReplay(ctx context.Context, id int64) (email.Stored, error) {
	row, err := q.g.GetEmailForReplay(ctx, id)
	if err != nil {
		return email.Stored{}, found("get email for replay", err, "email", id)
	}
	return emailFromRow(row)
}

// LockEmail returns email id (a tombstone if it was erased), locked until
// the end of the transaction, so that a patch or erasure of the same email
// waits for it. Errors: apperr NotFound; others name "lock email".
func (q *Queries) LockEmail(ctx context.Context, id int64) (email.Stored, error) {
	row, err := q.g.LockEmail(ctx, id)
	if err != nil {
		return email.Stored{}, found("lock email", err, "email", id)
	}
	return emailFromRow(row)
}

// PlacementUpdate sets an email's mailbox and labels with
// UpdateEmailPlacement.
type PlacementUpdate struct {
	ID              int64
	ExpectedVersion int64 // the version the change is based on
	Mailbox         string
	Labels          []string
	ContentHash     string       // the content hash with the new mailbox and labels
	MaxRetries      int32        // relay attempts of the outbox record
	Trace           TraceContext // of the request, stored with the outbox record
}

// UpdateEmailPlacement sets u's mailbox and labels on email u.ID, bumps its
// version, marks it pending, and enqueues the outbox upsert that carries the
// new version to MongoDB; it returns the updated email. ok is false and
// nothing changes when the email is no longer at u.ExpectedVersion or was
// erased. Other errors name "update email <id> placement".
func (q *Queries) UpdateEmailPlacement(ctx context.Context, u PlacementUpdate) (e email.Stored, ok bool, err error) {
	row, err := q.g.UpdateEmailPlacement(ctx, gen.UpdateEmailPlacementParams{
		ID: u.ID, ExpectedVersion: u.ExpectedVersion, Mailbox: u.Mailbox, Labels: u.Labels,
		ContentHash: u.ContentHash, MaxRetries: u.MaxRetries,
		Traceparent: nonEmpty(u.Trace.Parent), Tracestate: nonEmpty(u.Trace.State)})
	if errors.Is(err, pgx.ErrNoRows) {
		return email.Stored{}, false, nil
	}
	if err != nil {
		return email.Stored{}, false, wrap("update email "+strconv.FormatInt(u.ID, 10)+" placement", err)
	}
	e, err = emailFromRow(gen.IncomingEmail(row))
	return e, err == nil, err
}

// nonEmpty is s, or nil (NULL) when s is empty.
func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
