package relay

import (
	"context"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"mailsync/internal/audit"
	"mailsync/internal/db"
	"mailsync/internal/email"
)

// Admin reads and steers the sync state of emails: what the sync endpoints
// and dashboards show, and the re-drive of failed emails.
type Admin struct {
	pool       *pgxpool.Pool
	q          *db.Queries
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
	return &Admin{pool: pool, q: db.New(pool), workers: workers, maxRetries: maxRetries, wake: wake}
}

// Detail is an email's sync state with its outbox history, newest first.
type Detail struct {
	Email  email.Stored
	Outbox []db.OutboxMessage
}

// Detail returns email id's sync detail, or an apperr NotFound.
func (a *Admin) Detail(ctx context.Context, id int64) (Detail, error) {
	e, err := a.q.GetEmail(ctx, id)
	if err != nil {
		return Detail{}, err
	}
	out, err := a.q.OutboxForEmail(ctx, id)
	return Detail{Email: e, Outbox: out}, err
}

// Status is the dashboard summary.
type Status struct {
	Emails           map[string]int64 // by sync status
	Outbox           db.OutboxStats
	Workers          int
	SyncedLastMinute int64
	LastReport       *db.Report // nil before the first run
	Blobs            db.BlobCounts
	Control          Control // whether the relay is paused
}

// Status returns the dashboard summary.
func (a *Admin) Status(ctx context.Context) (Status, error) {
	s := Status{Workers: a.workers}
	var err error
	if s.Emails, err = a.q.CountEmailsByStatus(ctx); err != nil {
		return s, err
	}
	if s.Outbox, err = a.q.OutboxStats(ctx); err != nil {
		return s, err
	}
	if s.SyncedLastMinute, err = a.q.CountProcessedSince(ctx, time.Now().Add(-time.Minute)); err != nil {
		return s, err
	}
	if s.Blobs, err = a.q.BlobCounts(ctx); err != nil {
		return s, err
	}
	if s.Control, err = a.q.GetRelayControl(ctx); err != nil {
		return s, err
	}
	s.LastReport, err = a.q.LatestReport(ctx)
	return s, err
}

// Retry re-enqueues email id whatever its state, resets it to pending and
// records by's sync.retry audit event, in one transaction. It returns an
// apperr NotFound for an unknown id.
func (a *Admin) Retry(ctx context.Context, id int64, by audit.Actor) error {
	err := db.InTx(ctx, a.pool, func(q *db.Queries) error {
		if err := q.RequeueEmail(ctx, id, "retry", a.maxRetries); err != nil {
			return err
		}
		return audit.Record(ctx, q, by, audit.ActionSyncRetry, "email:"+strconv.FormatInt(id, 10), nil)
	})
	if err != nil {
		return err
	}
	a.wake()
	return nil
}
