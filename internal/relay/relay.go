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
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"mailsync/internal/db"
	"mailsync/internal/mongostore"
)

// Config tunes a Relay; zero fields take defaults.
type Config struct {
	Workers         int           // goroutines claiming batches (4)
	BatchSize       int           // outbox rows per claim (100)
	MaxRetries      int32         // attempts before a message is dead (10); set at enqueue
	Lease           time.Duration // how long a claim is held before others may take it (30s)
	PollInterval    time.Duration // claim at least this often without a wake-up (1s)
	BackoffBase     time.Duration // first retry delay of a failed message (1s)
	BackoffMax      time.Duration // cap of retry delays (5m)
	ProbeMax        time.Duration // cap of the store probe interval during an outage (1s)
	LoadBytes       int64         // email bytes loaded and written at once (32 MiB)
	ShutdownTimeout time.Duration // bound of Stop (20s)
	Name            string        // worker id prefix (host-pid)
	Metrics         Metrics       // optional
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

	run      context.Context // ends when Stop begins: no more claims
	cancel   context.CancelFunc
	abort    context.CancelFunc // cuts in-flight work when Stop's deadline passes
	stopOnce sync.Once
	stopErr  error
	wg       sync.WaitGroup

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
	def(&c.ShutdownTimeout, 20*time.Second)
	if c.Name == "" {
		host, _ := os.Hostname()
		c.Name = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	nonce := make([]byte, 6)
	_, _ = rand.Read(nonce)
	return &Relay{pool: pool, q: db.New(pool), mongo: mongo, cfg: c,
		self: c.Name + "-" + hex.EncodeToString(nonce), wake: make(chan struct{}, 1)}
}

// Start runs the workers and the cross-instance wake-up until Stop or ctx
// ends. A batch in a worker's hands is finished even after ctx ends; only
// Stop's deadline cuts it short.
func (r *Relay) Start(ctx context.Context) {
	var work context.Context
	r.run, r.cancel = context.WithCancel(ctx)
	work, r.abort = context.WithCancel(context.WithoutCancel(ctx))
	for i := 0; i < r.cfg.Workers; i++ {
		r.wg.Add(1)
		go r.work(work, fmt.Sprintf("%s-%d", r.cfg.Name, i))
	}
	r.wg.Add(2)
	go r.listen(r.run)
	go r.notifier(r.run)
}

// Shutdown stops claiming and waits for each worker to finish or release
// the batch in its hands. When ctx ends first, in-flight work is cut off
// (its rows stay leased and come back when the lease expires) and Shutdown
// returns at once with ctx's error. Later calls return the first result.
func (r *Relay) Shutdown(ctx context.Context) error {
	r.stopOnce.Do(func() {
		if r.cancel == nil {
			return // never started
		}
		r.cancel()
		done := make(chan struct{})
		go func() { r.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			r.stopErr = fmt.Errorf("stop relay: in-flight batches cut off: %w", ctx.Err())
		}
		r.abort() // cuts off what is still running; releases the context either way
	})
	return r.stopErr
}

// Stop is Shutdown bounded by Config.ShutdownTimeout; it logs a cut-off.
func (r *Relay) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.ShutdownTimeout)
	defer cancel()
	if err := r.Shutdown(ctx); err != nil {
		slog.Warn("relay stop", "err", err)
	}
}

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
	defer r.wg.Done()
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
