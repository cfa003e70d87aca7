// Package erasure removes emails for privacy requests and retention: an
// erased email stays in PostgreSQL as a tombstone with its personal fields
// cleared, its cached idempotency responses are purged, and an outbox
// 'delete' removes its MongoDB document. Single erasures, background
// erasure jobs and the retention service all go through EraseIDs.
package erasure

import (
	"context"
	"crypto/rand"
	"os"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"mailsync/internal/apperr"
	"mailsync/internal/audit"
	"mailsync/internal/db"
	"mailsync/internal/email"
	"mailsync/internal/lifecycle"
)

// Config tunes a Service; zero fields take the defaults of New.
type Config struct {
	// MaxRetries is the relay attempts given to each outbox 'delete' (10).
	MaxRetries int32
	// Wake, when set, nudges the relay after a commit that enqueued deletes.
	Wake func()
	// BatchSize is the emails a job erases per transaction (500).
	BatchSize int32
	// Lease is how long a job stays claimed without progress (30s).
	Lease time.Duration
	// PollInterval is how often the runner looks for open jobs (1s).
	PollInterval time.Duration
	// Worker names this instance in job leases (host-pid).
	Worker string
	// AddressKey keys the HMAC-SHA-256 of a job's address that its audit
	// event and its record keep (ERASURE_HMAC_KEY). Empty: a random key of
	// this process (hashes then compare only within it).
	AddressKey []byte
	// MaxAttempts is how many attempts in a row without progress a job gets
	// before it fails (5).
	MaxAttempts int32
	// RetryBase is the wait after a job's first failed attempt, doubled
	// after each further one up to an hour (5s).
	RetryBase time.Duration
}

// Service erases emails and runs erasure jobs.
type Service struct {
	pool *pgxpool.Pool
	q    *db.Queries
	cfg  Config
	run  runner
}

// New returns a Service on pool with cfg's defaults filled in.
func New(pool *pgxpool.Pool, cfg *Config) *Service {
	c := *cfg
	if c.MaxRetries <= 0 {
		c.MaxRetries = 10
	}
	if c.Wake == nil {
		c.Wake = func() {}
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 500
	}
	if c.Lease <= 0 {
		c.Lease = 30 * time.Second
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.RetryBase <= 0 {
		c.RetryBase = 5 * time.Second
	}
	if len(c.AddressKey) == 0 {
		c.AddressKey = make([]byte, 32)
		_, _ = rand.Read(c.AddressKey)
	}
	if c.Worker == "" {
		host, _ := os.Hostname()
		c.Worker = host + "-" + strconv.Itoa(os.Getpid())
	}
	return &Service{pool: pool, q: db.New(pool), cfg: c,
		run: runner{wake: make(chan struct{}, 1), life: lifecycle.NewGroup("erasure runner", "job batch in flight")}}
}

// EraseIDs turns the emails in ids that are not erased yet into tombstones
// with q (a transaction's queries: the tombstones, the outbox deletes, the
// purge of cached responses and the audit event commit together), records
// one audit event of action for them, and returns the ids erased. The
// caller wakes the relay after the commit.
func EraseIDs(ctx context.Context, q *db.Queries, ids []int64, a audit.Actor, action, target, reason string, maxRetries int32) ([]int64, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	erased, err := q.EraseEmails(ctx, ids, a.ClientID, reason, maxRetries)
	if err != nil {
		return nil, err
	}
	if len(erased) == 0 {
		return erased, nil
	}
	// Blobs no live email references any more go with them, in both stores.
	blobs, err := q.ReleaseBlobs(ctx, erased, action, maxRetries)
	if err != nil {
		return nil, err
	}
	details := map[string]any{"count": len(erased), "email_ids": erased}
	if len(blobs) > 0 {
		details["blobs_deleted"] = len(blobs)
	}
	switch {
	case reason == "":
	case action == audit.ActionErase:
		// An operator's free text may name the person whose mail is
		// erased, and the trail keeps it for good: the tombstone keeps
		// the reason, the event only that one was given.
		details["reason_given"] = true
	default: // the service's own words (retention, erasure job N)
		details["reason"] = reason
	}
	return erased, audit.Record(ctx, q, a, action, target, details)
}

// Erase erases email id for a with reason and returns its tombstone.
// Errors: apperr NotFound, Gone (already erased), Unavailable.
func (s *Service) Erase(ctx context.Context, id int64, reason string, a audit.Actor) (email.Stored, error) {
	var out email.Stored
	err := db.InTx(ctx, s.pool, func(q *db.Queries) error {
		cur, err := q.LockEmail(ctx, id)
		if err != nil {
			return err
		}
		if cur.Erased() {
			return apperr.New(apperr.Gone, "email %d was already erased", id)
		}
		target := "email:" + strconv.FormatInt(id, 10)
		if _, err := EraseIDs(ctx, q, []int64{id}, a, audit.ActionErase, target, reason, s.cfg.MaxRetries); err != nil {
			return err
		}
		out, err = q.GetEmail(ctx, id)
		return err
	})
	if err != nil {
		if db.IsUnavailable(err) {
			return email.Stored{}, apperr.New(apperr.Unavailable, "the database is unavailable; retry later")
		}
		return email.Stored{}, err
	}
	s.cfg.Wake()
	return out, nil
}

// EraseExpired erases up to limit emails received before before (the
// retention service's pass), recorded as the retention actor, and returns
// how many it erased. q is the caller's transaction; the caller wakes the
// relay after the commit.
func EraseExpired(ctx context.Context, q *db.Queries, before time.Time, limit, maxRetries int32) (int64, error) {
	ids, err := q.ExpiredEmailIDs(ctx, before, limit)
	if err != nil {
		return 0, err
	}
	erased, err := EraseIDs(ctx, q, ids, audit.Actor{ClientID: audit.RetentionActor}, audit.ActionRetentionErase,
		"emails", "EMAIL_RETENTION: received before "+before.UTC().Format(time.RFC3339), maxRetries)
	return int64(len(erased)), err
}
