package db

import (
	"context"
	"time"

	"mailsync/internal/db/gen"
	"mailsync/internal/email"
)

// CountErased is the key of CountEmailsByStatus's count of erased emails.
const CountErased = "erased"

// CountEmailsByStatus returns the number of emails in each sync status
// (every status present, zero included) and, under CountErased, the erased
// emails whose document is gone, which the synced count leaves out. It reads
// the counters the triggers keep rather than counting the table.
func (q *Queries) CountEmailsByStatus(ctx context.Context) (map[string]int64, error) {
	c, err := q.g.CountEmailsByStatus(ctx)
	if err != nil {
		return nil, wrap("count emails by status", err)
	}
	return map[string]int64{email.StatusPending: c.Pending, email.StatusSynced: c.Synced,
		email.StatusFailed: c.Failed, email.StatusNotApplicable: c.NotApplicable, CountErased: c.Erased}, nil
}

// OutboxStats counts the unprocessed outbox messages.
type OutboxStats struct {
	Pending  int64 // due or waiting for a retry, not leased
	InFlight int64 // leased to a worker
	Failed   int64 // dead letters
	// OldestPendingAgeSeconds is the age of the oldest message neither
	// processed nor dead (0 when there is none).
	OldestPendingAgeSeconds float64
}

// OutboxStats returns the outbox counts; their cost follows the backlog,
// not the number of processed messages.
func (q *Queries) OutboxStats(ctx context.Context) (OutboxStats, error) {
	r, err := q.g.OutboxStats(ctx)
	if err != nil {
		return OutboxStats{}, wrap("outbox stats", err)
	}
	return OutboxStats{Pending: r.Pending, InFlight: r.InFlight, Failed: r.Failed,
		OldestPendingAgeSeconds: r.OldestPendingAgeSeconds}, nil
}

// CountProcessedSince returns how many outbox messages were processed at or
// after since.
func (q *Queries) CountProcessedSince(ctx context.Context, since time.Time) (int64, error) {
	n, err := q.g.CountProcessedSince(ctx, since)
	return n, wrap("count processed since", err)
}

// OutboxForEmail returns the latest outbox messages (at most 100) of email
// id, newest first; none for an unknown id.
func (q *Queries) OutboxForEmail(ctx context.Context, id int64) ([]OutboxMessage, error) {
	rows, err := q.g.ListOutboxForEmail(ctx, id)
	if err != nil {
		return nil, wrap("list outbox for email", err)
	}
	return outboxFromRows(rows), nil
}

// SyncFailure is a failed email with its last error.
type SyncFailure struct {
	ID             int64
	MessageID      string
	Mailbox        string
	SyncError      *string
	SyncRetryCount int32
	UpdatedAt      time.Time
	// FailedAt is when its last outbox message died (UpdatedAt when it
	// has none).
	FailedAt time.Time
}

// ListSyncFailures returns up to limit failed emails with ids below
// beforeID (all when nil), newest first, and the cursor of the next page
// (nil on the last page).
func (q *Queries) ListSyncFailures(ctx context.Context, beforeID *int64, limit int32) ([]SyncFailure, *int64, error) {
	rows, err := q.g.ListSyncFailures(ctx, gen.ListSyncFailuresParams{BeforeID: beforeID, RowLimit: limit + 1})
	if err != nil {
		return nil, nil, wrap("list sync failures", err)
	}
	rows, next := page(rows, limit, func(r gen.ListSyncFailuresRow) int64 { return r.ID })
	out := make([]SyncFailure, len(rows))
	for i, r := range rows {
		out[i] = SyncFailure{ID: r.ID, MessageID: r.MessageID, Mailbox: r.Mailbox, SyncError: r.SyncError,
			SyncRetryCount: r.SyncRetryCount, UpdatedAt: r.UpdatedAt, FailedAt: r.FailedAt}
	}
	return out, next, nil
}

// RequeueEmail enqueues a fresh sync of email id, whatever its state, with
// maxRetries attempts and reason in the message's payload, and resets the
// email to pending. It returns an apperr NotFound for an unknown id.
func (q *Queries) RequeueEmail(ctx context.Context, id int64, reason string, maxRetries int32) error {
	_, err := q.g.RequeueEmail(ctx, gen.RequeueEmailParams{ID: id, Reason: reason, MaxRetries: maxRetries})
	return found("requeue email", err, "email", id)
}

// FailedFilter selects failed emails to re-drive; nil fields do not filter.
type FailedFilter struct {
	Mailbox *string
	// FailedBefore keeps the emails whose last message died before it.
	FailedBefore *time.Time
}

// RequeueFailedEmails enqueues a fresh sync, with maxRetries attempts, of
// every failed email f selects, resets them to pending, and returns how
// many.
func (q *Queries) RequeueFailedEmails(ctx context.Context, f FailedFilter, maxRetries int32) (int64, error) {
	n, err := q.g.RequeueFailedEmails(ctx, gen.RequeueFailedEmailsParams{
		Mailbox: f.Mailbox, FailedBefore: f.FailedBefore, MaxRetries: maxRetries})
	return n, wrap("requeue failed emails", err)
}
