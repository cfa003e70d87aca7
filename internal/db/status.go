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

// RequeueEmail enqueues a fresh sync of email id, whatever its state, with
// maxRetries attempts and reason in the message's payload, and resets the
// email to pending. It returns an apperr NotFound for an unknown id.
func (q *Queries) RequeueEmail(ctx context.Context, id int64, reason string, maxRetries int32) error {
	_, err := q.g.RequeueEmail(ctx, gen.RequeueEmailParams{ID: id, Reason: reason, MaxRetries: maxRetries})
	return found("requeue email", err, "email", id)
}
