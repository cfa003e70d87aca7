// Package maintenance deletes what mailsync no longer needs: processed
// outbox rows past OUTBOX_RETENTION, idempotency records past expires_at, and
// old reconciliation reports, and erases emails past EMAIL_RETENTION (when
// set), and removes the oldest audit events past AUDIT_RETENTION (when set)
// as a prefix of the audit chain, in bounded batches, one instance at a
// time.
package maintenance

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"mailsync/internal/db"
	"mailsync/internal/erasure"
	"mailsync/internal/lifecycle"
)

// Config tunes the cleaner; zero fields take defaults.
type Config struct {
	OutboxRetention time.Duration // processed outbox rows older than this go (168h)
	ReportRetention time.Duration // reconciliation reports older than this go (2160h = 90 days)
	Interval        time.Duration // time between passes (5m)
	BatchSize       int32         // rows per delete statement (1000)
	Metrics         Metrics       // optional
	// EmailRetention, when positive, erases emails received longer ago than
	// this, through the erasure path (tombstone, MongoDB delete, audit).
	// Zero (the default) keeps emails forever.
	EmailRetention time.Duration
	// AuditRetention, when positive, removes audit events older than this
	// as a prefix of the chain (the seq and hash it ends on are kept, so
	// verification continues from there). Zero (the default) keeps them.
	AuditRetention time.Duration
	MaxRetries     int32  // relay attempts of each erasure's outbox delete (10)
	Wake           func() // optional: nudges the relay after emails were erased
	Now            func() time.Time
}

// Metrics receives deleted-row counts.
type Metrics interface {
	Deleted(table string, n int64)
}

// Cleaner runs retention passes.
type Cleaner struct {
	pool *pgxpool.Pool
	cfg  Config
	life *lifecycle.Group
}

// New returns a Cleaner with cfg's defaults filled in.
func New(pool *pgxpool.Pool, cfg *Config) *Cleaner {
	c := *cfg
	if c.OutboxRetention <= 0 {
		c.OutboxRetention = 168 * time.Hour
	}
	if c.ReportRetention <= 0 {
		c.ReportRetention = 90 * 24 * time.Hour
	}
	if c.Interval <= 0 {
		c.Interval = 5 * time.Minute
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 1000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MaxRetries <= 0 {
		c.MaxRetries = 10
	}
	if c.Wake == nil {
		c.Wake = func() {}
	}
	return &Cleaner{pool: pool, cfg: c, life: lifecycle.NewGroup("retention cleaner", "delete batch in flight")}
}

// Start runs a pass at once and then every Interval, each bounded by
// Interval, until Stop or until ctx ends. It returns an error when the
// cleaner was started or stopped before.
func (c *Cleaner) Start(ctx context.Context) error {
	if c.pool == nil {
		return errors.New("start retention cleaner: a PostgreSQL pool is required")
	}
	if err := c.life.Start(ctx); err != nil {
		return err
	}
	passes := &lifecycle.Loop{Name: "retention pass", Interval: c.cfg.Interval, Timeout: c.cfg.Interval, Immediate: true,
		Pass: func(claim, ctx context.Context) error {
			_, err := c.runOnce(claim, ctx)
			return err
		}}
	c.life.Go(passes.Run)
	return nil
}

// Stop stops starting delete batches and waits, while ctx lasts, for the
// batch in flight to commit. When ctx ends first, the batch is cut off
// (rolled back) and Stop returns at once an error wrapping ctx's. Stop is
// idempotent; a Stop before Start returns nil, and the cleaner cannot be
// started after it.
func (c *Cleaner) Stop(ctx context.Context) error { return c.life.Stop(ctx) }

// Result counts what one pass deleted, by table.
type Result map[string]int64

// RunOnce deletes everything past retention, batch by batch, and returns
// the counts. Each batch is a transaction holding the maintenance advisory
// lock; when another instance holds it, the pass stops early (that instance
// is doing the work). When ctx ends, the pass stops with its error.
func (c *Cleaner) RunOnce(ctx context.Context) (Result, error) { return c.runOnce(ctx, ctx) }

// runOnce is RunOnce, which stops before its next batch once claim ends.
func (c *Cleaner) runOnce(claim, ctx context.Context) (Result, error) {
	now := c.cfg.Now()
	res := Result{}
	steps := []struct {
		table string
		del   func(q *db.Queries) (int64, error)
	}{
		{"outbox_messages", func(q *db.Queries) (int64, error) {
			return q.DeleteProcessedOutbox(ctx, now.Add(-c.cfg.OutboxRetention), c.cfg.BatchSize)
		}},
		{"idempotency_keys", func(q *db.Queries) (int64, error) {
			return q.DeleteExpiredIdempotencyKeys(ctx, now, c.cfg.BatchSize)
		}},
		{"reconciliation_reports", func(q *db.Queries) (int64, error) {
			return q.DeleteOldReports(ctx, now.Add(-c.cfg.ReportRetention), c.cfg.BatchSize)
		}},
	}
	if c.cfg.EmailRetention > 0 {
		// Erased, not deleted: the rows stay as tombstones (audit_events is
		// never touched by retention).
		steps = append(steps, struct {
			table string
			del   func(q *db.Queries) (int64, error)
		}{"incoming_emails", func(q *db.Queries) (int64, error) {
			return erasure.EraseExpired(ctx, q, now.Add(-c.cfg.EmailRetention), c.cfg.BatchSize, c.cfg.MaxRetries)
		}})
	}
	if c.cfg.AuditRetention > 0 {
		steps = append(steps, struct {
			table string
			del   func(q *db.Queries) (int64, error)
		}{"audit_events", func(q *db.Queries) (int64, error) {
			return q.PruneAuditEvents(ctx, now.Add(-c.cfg.AuditRetention), c.cfg.BatchSize)
		}})
	}
	for _, s := range steps {
		for {
			if err := claim.Err(); err != nil {
				return res, err
			}
			var n int64
			locked := true
			err := db.InTx(ctx, c.pool, func(q *db.Queries) error {
				ok, err := q.TryMaintenanceLock(ctx)
				if err != nil || !ok {
					locked = false
					return err
				}
				n, err = s.del(q)
				return err
			})
			if err != nil {
				return res, fmt.Errorf("clean %s: %w", s.table, err)
			}
			if !locked {
				return res, nil
			}
			res[s.table] += n
			if s.table == "incoming_emails" && n > 0 {
				c.cfg.Wake()
			}
			if c.cfg.Metrics != nil && n > 0 {
				c.cfg.Metrics.Deleted(s.table, n)
			}
			if n < int64(c.cfg.BatchSize) {
				break
			}
		}
	}
	return res, nil
}
