package relay

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"mailsync/internal/db"
	"mailsync/internal/db/gen"
	"mailsync/internal/email"
)

// Admin reads and steers the sync state of emails: what the sync endpoints
// and dashboards show, and the re-drive of failed emails.
type Admin struct {
	pool       *pgxpool.Pool
	q          *gen.Queries
	workers    int
	maxRetries int32
	wake       func()
}

// NewAdmin returns an Admin. workers is reported by Status; maxRetries is
// given to re-enqueued messages; wake (optional) nudges the relay.
func NewAdmin(pool *pgxpool.Pool, workers int, maxRetries int32, wake func()) *Admin {
	if wake == nil {
		wake = func() {}
	}
	return &Admin{pool: pool, q: gen.New(pool), workers: workers, maxRetries: maxRetries, wake: wake}
}

// Detail is an email's sync state with its outbox history, newest first.
type Detail struct {
	Email  email.Stored
	Outbox []gen.OutboxMessage
}

// Detail returns email id's sync detail, or an apperr NotFound.
func (a *Admin) Detail(ctx context.Context, id int64) (Detail, error) {
	row, err := a.q.GetEmail(ctx, id)
	if err != nil {
		return Detail{}, db.NotFound(err, "email", id)
	}
	e, err := db.EmailFromRow(row)
	if err != nil {
		return Detail{}, err
	}
	out, err := a.q.ListOutboxForEmail(ctx, id)
	return Detail{Email: e, Outbox: out}, err
}

// Status is the dashboard summary.
type Status struct {
	Emails           map[string]int64
	Outbox           gen.OutboxStatsRow
	Workers          int
	SyncedLastMinute int64
	LastReport       *gen.ReconciliationReport // nil before the first run
}

// Status returns the dashboard summary.
func (a *Admin) Status(ctx context.Context) (Status, error) {
	s := Status{Emails: map[string]int64{}, Workers: a.workers}
	counts, err := a.q.CountEmailsByStatus(ctx)
	if err != nil {
		return s, err
	}
	for _, c := range counts {
		s.Emails[c.SyncStatus] = c.N
	}
	if s.Outbox, err = a.q.OutboxStats(ctx); err != nil {
		return s, err
	}
	if s.SyncedLastMinute, err = a.q.CountProcessedSince(ctx, time.Now().Add(-time.Minute)); err != nil {
		return s, err
	}
	r, err := a.q.LatestReport(ctx)
	switch {
	case err == nil:
		s.LastReport = &r
	case !errors.Is(err, pgx.ErrNoRows):
		return s, err
	}
	return s, nil
}

// Failures returns failed emails, newest first, and the next page's cursor.
func (a *Admin) Failures(ctx context.Context, beforeID *int64, limit int32) ([]gen.ListSyncFailuresRow, *int64, error) {
	rows, err := a.q.ListSyncFailures(ctx, gen.ListSyncFailuresParams{BeforeID: beforeID, RowLimit: limit + 1})
	if err != nil {
		return nil, nil, err
	}
	var next *int64
	if len(rows) > int(limit) {
		rows = rows[:limit]
		next = &rows[len(rows)-1].ID
	}
	return rows, next, nil
}

// Retry re-enqueues email id whatever its state and resets it to pending.
// It returns an apperr NotFound for an unknown id.
func (a *Admin) Retry(ctx context.Context, id int64) error {
	_, err := a.q.RequeueEmail(ctx, gen.RequeueEmailParams{ID: id, Reason: "retry", MaxRetries: a.maxRetries})
	if err != nil {
		return db.NotFound(err, "email", id)
	}
	a.wake()
	return nil
}

// RetryFailed re-enqueues every failed email (optionally only one mailbox's,
// or those failed before a time) and returns how many.
func (a *Admin) RetryFailed(ctx context.Context, mailbox *string, failedBefore *time.Time) (int64, error) {
	n, err := a.q.RequeueFailedEmails(ctx, gen.RequeueFailedEmailsParams{Mailbox: mailbox, FailedBefore: failedBefore, MaxRetries: a.maxRetries})
	if n > 0 {
		a.wake()
	}
	return n, err
}
