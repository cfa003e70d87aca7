// Package relay moves outbox records to MongoDB: a pool of workers claims
// batches with FOR UPDATE SKIP LOCKED under a lease, writes each email's
// current state to MongoDB, and marks the batch done in one transaction.
// Any number of instances may relay against one database.
package relay

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"mailsync/internal/db/gen"
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
	BackoffMax   time.Duration // cap of retry delays and of the outage pause (5m)
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
	q     *gen.Queries
	mongo *mongostore.Store
	cfg   Config

	wakes    []chan struct{}
	notify   atomic.Bool // a NOTIFY to other instances is due
	pause    atomic.Int64
	outage   atomic.Int64 // consecutive transient failures
	stopOnce sync.Once
	cancel   context.CancelFunc
	wg       sync.WaitGroup
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
	def(&c.Lease, 30*time.Second)
	def(&c.PollInterval, time.Second)
	def(&c.BackoffBase, time.Second)
	def(&c.BackoffMax, 5*time.Minute)
	if c.Name == "" {
		host, _ := os.Hostname()
		c.Name = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	r := &Relay{pool: pool, q: gen.New(pool), mongo: mongo, cfg: c}
	for i := 0; i < c.Workers; i++ {
		r.wakes = append(r.wakes, make(chan struct{}, 1))
	}
	return r
}

// Start runs the workers and the cross-instance wake-up until Stop or ctx ends.
func (r *Relay) Start(ctx context.Context) {
	ctx, r.cancel = context.WithCancel(ctx)
	for i := range r.wakes {
		r.wg.Add(1)
		go r.work(ctx, fmt.Sprintf("%s-%d", r.cfg.Name, i), r.wakes[i])
	}
	r.wg.Add(2)
	go r.listen(ctx)
	go r.notifier(ctx)
}

// Stop stops claiming, lets each worker finish the batch in its hands, and
// returns when all have exited. Rows of a batch cut short stay leased and are
// reclaimed by any relay when the lease expires.
func (r *Relay) Stop() {
	r.stopOnce.Do(func() {
		if r.cancel != nil {
			r.cancel()
		}
		r.wg.Wait()
	})
}

// Notify wakes the local workers now and, debounced, the other instances.
// Call it after a commit that enqueued messages, never inside the transaction.
func (r *Relay) Notify() {
	r.wakeLocal()
	r.notify.Store(true)
}

func (r *Relay) wakeLocal() {
	for _, w := range r.wakes {
		select {
		case w <- struct{}{}:
		default:
		}
	}
}

func (r *Relay) work(ctx context.Context, id string, wake <-chan struct{}) {
	defer r.wg.Done()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		if wait := time.Until(time.Unix(0, r.pause.Load())); wait > 0 {
			if !sleep(ctx, wait) {
				return
			}
		}
		// The batch is finished even if Stop is called meanwhile.
		n, err := r.RunOnce(context.WithoutCancel(ctx), id)
		if err != nil {
			slog.Warn("relay batch failed", "worker", id, "err", err)
		}
		if ctx.Err() != nil {
			return
		}
		if n == r.cfg.BatchSize && err == nil {
			continue // more may be waiting
		}
		timer.Reset(r.cfg.PollInterval)
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-timer.C:
		}
	}
}

// outageBackoff pauses every worker of this relay, growing with each
// consecutive transient failure: MongoDB being down is nobody's fault and
// must not burn the messages' retries.
func (r *Relay) outageBackoff() time.Duration {
	n := r.outage.Add(1)
	d := r.cfg.BackoffBase << min(n-1, 8)
	d = min(d, 30*time.Second, r.cfg.BackoffMax)
	r.pause.Store(time.Now().Add(d).UnixNano())
	return d
}

// retryDelay is the exponential backoff with full jitter of attempt n (1-based).
func (r *Relay) retryDelay(n int32) time.Duration {
	d := r.cfg.BackoffBase << min(n-1, 20)
	d = min(d, r.cfg.BackoffMax)
	return d/2 + rand.N(d/2+1)
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
