package db

import (
	"context"
	"encoding/json"
	"time"

	"mailsync/internal/db/gen"
	"mailsync/internal/email"
)

// The operations of an outbox message.
const (
	OpUpsert = "upsert" // write the email's current state
	OpDelete = "delete" // remove the email's document
)

// OutboxMessage is one outbox_messages row: a change of one aggregate (an
// email) waiting to be relayed to MongoDB, or its history once relayed.
// A row is leased to one relay worker at a time (LockedBy until
// LockedUntil); it is done when ProcessedAt is set and dead when FailedAt
// is set with ProcessedAt still nil.
type OutboxMessage struct {
	ID             int64
	AggregateType  string // "email"
	AggregateID    int64
	Operation      string // OpUpsert or OpDelete
	Payload        json.RawMessage
	IdempotencyKey *string
	CreatedAt      time.Time
	ProcessedAt    *time.Time
	RetryCount     int32 // failed attempts so far
	MaxRetries     int32 // attempts before the message is dead
	ErrorMessage   *string
	NextAttemptAt  time.Time
	LockedUntil    *time.Time
	LockedBy       *string
	FailedAt       *time.Time
	// Trace is the trace context of the request that enqueued the row.
	Trace TraceContext
}

func outboxFromRow(r gen.OutboxMessage) OutboxMessage {
	return OutboxMessage{
		ID: r.ID, AggregateType: r.AggregateType, AggregateID: r.AggregateID, Operation: r.Operation,
		Payload: r.Payload, IdempotencyKey: r.IdempotencyKey, CreatedAt: r.CreatedAt,
		ProcessedAt: r.ProcessedAt, RetryCount: r.RetryCount, MaxRetries: r.MaxRetries,
		ErrorMessage: r.ErrorMessage, NextAttemptAt: r.NextAttemptAt, LockedUntil: r.LockedUntil,
		LockedBy: r.LockedBy, FailedAt: r.FailedAt,
		Trace: TraceContext{Parent: deref(r.Traceparent), State: deref(r.Tracestate)},
	}
}

func outboxFromRows(rows []gen.OutboxMessage) []OutboxMessage {
	out := make([]OutboxMessage, len(rows))
	for i, r := range rows {
		out[i] = outboxFromRow(r)
	}
	return out
}

// ClaimOutbox leases up to limit due messages to worker for lease, oldest
// due first, skipping rows other workers hold. An expired lease is
// claimable again. No due message is an empty slice, not an error.
func (q *Queries) ClaimOutbox(ctx context.Context, worker string, lease time.Duration, limit int) ([]OutboxMessage, error) {
	rows, err := q.g.ClaimOutbox(ctx, gen.ClaimOutboxParams{
		LeaseSeconds: lease.Seconds(), Worker: worker, RowLimit: int32(limit)})
	if err != nil {
		return nil, wrap("claim outbox", err)
	}
	return outboxFromRows(rows), nil
}

// RelayEmail is one email as the relay loads it to write its document.
type RelayEmail struct {
	ID int64
	// Erased says the email was erased: its document is to be deleted, and
	// Email is left empty.
	Erased bool
	// Email is the stored email unless Erased or Err.
	Email email.Stored
	// Err says the row holds JSON the service never wrote; Email is then
	// incomplete and its document cannot be written.
	Err error
	// Bytes is what the load read: both bodies and the encoded headers
	// and attachments (0 for an erased email).
	Bytes int64
	// Version is the email's version (for an erased email, the version of
	// its erasure, which its MongoDB tombstone carries).
	Version int64
}

// LoadEmailsToRelay returns the emails with these ids that exist, in id
// order. A row that cannot be decoded is returned with its Err set rather
// than failing the load; the error is for the statement.
func (q *Queries) LoadEmailsToRelay(ctx context.Context, ids []int64) ([]RelayEmail, error) {
	rows, err := q.g.GetEmailsByIDs(ctx, ids)
	if err != nil {
		return nil, wrap("get emails by ids", err)
	}
	out := make([]RelayEmail, len(rows))
	for i, r := range rows {
		out[i].ID = r.ID
		out[i].Version = r.Version
		if r.ErasedAt != nil {
			out[i].Erased = true
			continue
		}
		out[i].Bytes = int64(len(r.TextBody) + len(r.HtmlBody) + len(r.Headers) + len(r.Attachments))
		out[i].Email, out[i].Err = emailFromRow(r)
		rows[i] = gen.IncomingEmail{} // the decoded email holds what is needed
	}
	return out, nil
}

// LockEmailVersions locks the emails ids in id order until the end of the
// transaction and returns their current versions by id. Unknown ids are
// absent.
func (q *Queries) LockEmailVersions(ctx context.Context, ids []int64) (map[int64]int64, error) {
	rows, err := q.g.LockEmailVersions(ctx, ids)
	if err != nil {
		return nil, wrap("lock email versions", err)
	}
	out := make(map[int64]int64, len(rows))
	for _, r := range rows {
		out[r.ID] = r.Version
	}
	return out, nil
}

// MarkOutboxProcessed completes the messages ids still leased to worker and
// returns their ids; a message whose lease was lost or taken over is left
// to its new owner and absent from the result.
func (q *Queries) MarkOutboxProcessed(ctx context.Context, worker string, ids []int64) ([]int64, error) {
	got, err := q.g.MarkOutboxProcessed(ctx, gen.MarkOutboxProcessedParams{Ids: ids, Worker: worker})
	return got, wrap("mark outbox processed", err)
}

// MarkEmailsSynced marks the emails ids synced, except those with a newer
// message still queued (they stay pending). Run it after
// MarkOutboxProcessed in the same transaction.
func (q *Queries) MarkEmailsSynced(ctx context.Context, ids []int64) error {
	return wrap("mark emails synced", q.g.MarkEmailsSynced(ctx, ids))
}

// ResolveDeadOutbox marks processed the dead messages of the emails ids,
// which have been synced since: they are no longer dead letters.
func (q *Queries) ResolveDeadOutbox(ctx context.Context, emailIDs []int64) error {
	return wrap("resolve dead outbox", q.g.ResolveDeadOutbox(ctx, emailIDs))
}

// ReleaseOutbox gives the messages ids still leased to worker back,
// claimable at once, without counting an attempt; reason is recorded as
// their error message. Messages no longer leased to worker are left alone.
func (q *Queries) ReleaseOutbox(ctx context.Context, worker string, ids []int64, reason string) error {
	_, err := q.g.ReleaseOutbox(ctx, gen.ReleaseOutboxParams{Ids: ids, Worker: worker, ErrorMessage: &reason})
	return wrap("release outbox", err)
}

// OutboxFailure is a failed attempt of one leased outbox message.
type OutboxFailure struct {
	ID      int64  // the outbox message
	EmailID int64  // its aggregate; 0 for a message of no email (a blob's)
	Worker  string // the lease holder recording the failure
	Error   *string
	RetryAt time.Time // when a retried message is due again
	Dead    bool      // no more attempts: the message dies and the email fails
}

// FailOutbox records the failed attempt f: the message is retried at
// f.RetryAt or dead, and its email records the error (and fails when
// dead). It returns false, changing nothing, when the message is no longer
// leased to f.Worker. Run it in a transaction.
func (q *Queries) FailOutbox(ctx context.Context, f OutboxFailure) (bool, error) {
	n, err := q.g.FailOutbox(ctx, gen.FailOutboxParams{ID: f.ID, Worker: f.Worker, ErrorMessage: f.Error,
		NextAttemptAt: f.RetryAt, Dead: f.Dead})
	if err != nil || n == 0 {
		return false, wrap("fail outbox", err)
	}
	if f.EmailID == 0 {
		return true, nil
	}
	err = q.g.MarkEmailSyncError(ctx, gen.MarkEmailSyncErrorParams{ID: f.EmailID, SyncError: f.Error, Dead: f.Dead})
	if err != nil {
		return false, wrap("mark email sync error", err)
	}
	return true, nil
}

// NotifyOutboxFrom is NotifyOutbox with sender as payload: the listener of
// the sending instance ignores it (its workers were woken in-process). Send
// it after commit, never inside an ingest transaction.
func (q *Queries) NotifyOutboxFrom(ctx context.Context, sender string) error {
	return wrap("notify outbox from", q.g.NotifyOutboxFrom(ctx, sender))
}

// deref is *p, or "" when p is nil.
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
