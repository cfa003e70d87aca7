// Package maintenance deletes what mailsync no longer needs: processed
// outbox rows past OUTBOX_RETENTION, idempotency records past expires_at, and
// old reconciliation reports, and erases emails past EMAIL_RETENTION (when
// set), in bounded batches, one instance at a time.
package maintenance

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"mailsync/internal/db"
	"mailsync/internal/erasure"
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

	cancel context.CancelFunc
	wg     sync.WaitGroup
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
	return &Cleaner{pool: pool, cfg: c}
}

// Start runs a pass every Interval until Stop.
func (c *Cleaner) Start(ctx context.Context) {
	ctx, c.cancel = context.WithCancel(ctx)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		t := time.NewTicker(c.cfg.Interval)
		defer t.Stop()
		for {
			pctx, cancel := context.WithTimeout(ctx, c.cfg.Interval)
			if _, err := c.RunOnce(pctx); err != nil && ctx.Err() == nil {
				slog.Warn("retention pass failed", "err", err)
			}
			cancel()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// Stop ends the loop and waits for a pass in progress.
func (c *Cleaner) Stop() {
	if c.cancel != nil {
		c.cancel()
	}
	c.wg.Wait()
}

// Result counts what one pass deleted, by table.
type Result map[string]int64

// RunOnce deletes everything past retention, batch by batch, and returns
// the counts. Each batch is a transaction holding the maintenance advisory
// lock; when another instance holds it, the pass stops early (that instance
// is doing the work).
func (c *Cleaner) RunOnce(ctx context.Context) (Result, error) {
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
	for _, s := range steps {
		for {
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
