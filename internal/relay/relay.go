// Package relay moves outbox records to MongoDB: a pool of workers claims
// batches with FOR UPDATE SKIP LOCKED under a lease, writes each email's
// current state to MongoDB, and marks the rows done. Any number of instances
// may relay against one database; only the worker holding a row's lease may
// complete, fail or release it.
package relay

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"mailsync/internal/db"
	"mailsync/internal/lifecycle"
	"mailsync/internal/mongostore"
)

// Config tunes a Relay; zero fields take defaults.
type Config struct {
	Workers      int           // goroutines claiming batches (4)
	BatchSize    int           // outbox rows per claim (100)
	MaxRetries   int32         // attempts before a message is dead (10); set at enqueue
	Lease        time.Duration // how long a claim is held before others may take it (30s)
	PollInterval time.Duration // claim at least this often without a wake-up (1s)
	BackoffBase  time.Duration // first retry delay of a failed message (1s)
	BackoffMax   time.Duration // cap of retry delays (5m)
	ProbeMax     time.Duration // cap of the store probe interval during an outage (1s)
	LoadBytes    int64         // email bytes loaded and written at once (32 MiB)
	Name         string        // worker id prefix (host-pid)
	Metrics      Metrics       // optional
}

// Metrics receives relay outcomes.
type Metrics interface {
	Batch(docs int)
	Retried(n int)
	Dead(n int)
}

// Relay is the worker pool.
type Relay struct {
	pool  *pgxpool.Pool
	q     *db.Queries
	mongo *mongostore.Store
	cfg   Config
	self  string // NOTIFY payload of this instance: its listener ignores it

	wake   chan struct{} // one token wakes one idle worker
	notify atomic.Bool   // a NOTIFY to other instances is due
	store  storeState

	life *lifecycle.Group // the workers, the listener and the notifier
	run  context.Context  // ends when Stop begins: no more claims; nil until Start

	emptyClaims atomic.Int64
	onLoad      func(emails int, bytes int64) // test hook
}

// New returns a Relay with cfg's defaults filled in. It does nothing until Start.
func New(pool *pgxpool.Pool, mongo *mongostore.Store, cfg *Config) *Relay {
	c := *cfg
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 100
	}
	if c.MaxRetries <= 0 {
		c.MaxRetries = 10
	}
	if c.LoadBytes <= 0 {
		c.LoadBytes = 32 << 20
	}
	def(&c.Lease, 30*time.Second)
	def(&c.PollInterval, time.Second)
	def(&c.BackoffBase, time.Second)
	def(&c.BackoffMax, 5*time.Minute)
	def(&c.ProbeMax, time.Second)
	if c.Name == "" {
		host, _ := os.Hostname()
		c.Name = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	nonce := make([]byte, 6)
	_, _ = rand.Read(nonce)
	return &Relay{pool: pool, q: db.New(pool), mongo: mongo, cfg: c,
		self: c.Name + "-" + hex.EncodeToString(nonce), wake: make(chan struct{}, 1),
		life: lifecycle.NewGroup("relay", "in-flight batches")}
}

// Start runs the workers, the cross-instance wake-up (LISTEN) and the
// debounced NOTIFY until Stop, or until ctx ends (then nothing more is
// claimed, but a batch in a worker's hands is finished: only Stop's
// deadline cuts it short). It returns an error when the relay was started
// or stopped before, or has workers but no MongoDB store.
func (r *Relay) Start(ctx context.Context) error {
	if r.pool == nil || (r.cfg.Workers > 0 && r.mongo == nil) {
		return errors.New("start relay: a PostgreSQL pool and, for workers, a MongoDB store are required")
	}
	if err := r.life.Start(ctx); err != nil {
		return err
	}
	r.run = r.life.Claim()
	for i := 0; i < r.cfg.Workers; i++ {
		id := fmt.Sprintf("%s-%d", r.cfg.Name, i)
		r.life.Go(func(_, work context.Context) { r.work(work, id) })
	}
	r.life.Go(func(claim, _ context.Context) { r.listen(claim) })
	r.life.Go(r.notifier)
	return nil
}

// Stop stops claiming and waits, while ctx lasts, for each worker to finish
// or release the batch in its hands (a batch's chunks not started yet are
// released at once), and for the notifier to send the last NOTIFY due. When
// ctx ends first, in-flight work is cut off (its rows stay leased and come
// back when the lease expires) and Stop returns at once an error wrapping
// ctx's ("stop relay: in-flight batches cut off: …"). Stop is idempotent; a
// Stop before Start returns nil, and the relay cannot be started after it.
func (r *Relay) Stop(ctx context.Context) error { return r.life.Stop(ctx) }

// Notify wakes one local worker now and, debounced, the other instances.
// Call it after a commit that enqueued messages, never inside the transaction.
func (r *Relay) Notify() {
	r.wakeOne()
	r.notify.Store(true)
}

// wakeOne hands one idle worker a token; a worker that then claims a full
// batch wakes the next, so a burst brings in as many workers as it needs.
func (r *Relay) wakeOne() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *Relay) work(work context.Context, id string) {
	timer := time.NewTimer(r.cfg.PollInterval)
	defer timer.Stop()
	for {
		ok, trial := r.waitStore(r.run)
		if !ok {
			return
		}
		n, err := r.RunOnce(work, id)
		if trial {
			r.endTrial(err)
		}
		if err != nil && work.Err() == nil {
			slog.Warn("relay batch", "worker", id, "err", err)
		}
		if r.run.Err() != nil {
			return
		}
		switch {
		case n == r.cfg.BatchSize && err == nil:
			r.wakeOne() // more may be waiting
			continue
		case errors.Is(err, errLeaseLost): // its rest is claimable now
			continue
		case errors.Is(err, errStoreDown): // wait for the probe at the top
			continue
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(r.cfg.PollInterval)
		select {
		case <-r.run.Done():
			return
		case <-r.wake:
		case <-timer.C:
		}
	}
}

// retryDelay is the exponential backoff with full jitter of attempt n (1-based).
func (r *Relay) retryDelay(n int32) time.Duration {
	d := r.cfg.BackoffBase << min(n-1, 20)
	d = min(d, r.cfg.BackoffMax)
	return d/2 + mrand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func ptr[T any](v T) *T { return &v }
