package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	apiclient "mailsync/client"
)

// LoadConfig tunes the load generator.
type LoadConfig struct {
	Targets        []string // base URLs of the instances serving the API
	Clients        []Client
	Workers        int           // concurrent operations
	Pace           time.Duration // pause after each operation of a worker
	MaxBatch       int           // items per batch: 2..MaxBatch
	RequestTimeout time.Duration
	Timeline       *Timeline
	RunID          string // makes message ids unique per run
}

// item is one email under one idempotency key, always sent with the same
// content, so every resend is a true duplicate.
type item struct {
	client   int
	key      string
	input    apiclient.EmailInput
	expected string // content hash of what was sent, computed by the client
	first    time.Time
}

// Ack is a 2xx acknowledgement of one (client, key).
type Ack struct {
	Client, Key, MessageID string
	ID                     int64
	Hash                   string // content_hash in the acknowledgement
	Expected               string // content hash of what was sent
	item                   *item
}

// Load is the load generator: singles, batches, replays of acknowledged keys
// and concurrent duplicates, each sent through mailsync's Go client and
// retried by it until a final answer.
type Load struct {
	cfg  LoadConfig
	http *http.Client
	api  [][]*apiclient.Client // per API client, per first target
	seq  []atomic.Int64        // per client
	out  outcomes

	giveUp atomic.Int64 // unix nanos; requests stop retrying after it

	mu         sync.Mutex
	items      map[string]*item // client\x00key → item, every key ever sent
	acks       map[string]*Ack
	ackList    []*Ack
	violations []string
	slowestAck time.Duration

	requests, retries, singles, batches          atomic.Int64
	replayed, dupSends, dupReplayed, dupAnswered atomic.Int64
	wg                                           sync.WaitGroup
}

// NewLoad returns a generator; nothing is sent until Start.
func NewLoad(cfg LoadConfig) (*Load, error) {
	l := &Load{cfg: cfg, seq: make([]atomic.Int64, len(cfg.Clients)),
		items: map[string]*item{}, acks: map[string]*Ack{},
		http: &http.Client{Timeout: cfg.RequestTimeout, Transport: &http.Transport{
			MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}}}
	l.giveUp.Store(time.Now().Add(time.Hour).UnixNano())
	if err := l.newAPI(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *Load) giveUpAt() time.Time { return time.Unix(0, l.giveUp.Load()) }

func ident(client int, key string) string { return fmt.Sprint(client) + "\x00" + key }

// Start runs the workers until ctx ends; operations already started go on
// retrying until Finish.
func (l *Load) Start(ctx context.Context) {
	for w := 0; w < l.cfg.Workers; w++ {
		l.wg.Add(1)
		go func(w int) {
			defer l.wg.Done()
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(w)))
			for ctx.Err() == nil {
				l.operation(rng, w)
				select {
				case <-ctx.Done():
				case <-time.After(l.cfg.Pace):
				}
			}
		}(w)
	}
}

// Finish lets operations in progress retry for up to grace, then waits for them.
func (l *Load) Finish(grace time.Duration) {
	l.giveUp.Store(time.Now().Add(grace).UnixNano())
	l.wg.Wait()
}

func (l *Load) operation(rng *rand.Rand, w int) {
	ci := rng.IntN(len(l.cfg.Clients))
	start := rng.IntN(len(l.cfg.Targets))
	switch r := rng.Float64(); {
	case r < 0.50:
		l.singles.Add(1)
		l.single(l.newItem(ci, rng), start, fresh)
	case r < 0.75:
		l.batches.Add(1)
		n := 2 + rng.IntN(max(l.cfg.MaxBatch-1, 1))
		items := make([]*item, 0, n+1)
		for range n {
			items = append(items, l.newItem(ci, rng))
		}
		dups := map[*item]bool{}
		if rng.IntN(3) == 0 { // a batch that repeats an acknowledged key
			if a := l.randomAck(rng, ci); a != nil {
				items = append(items, a.item)
				dups[a.item] = true
			}
		}
		l.batch(items, dups, start)
	case r < 0.87: // resend an acknowledged key
		if a := l.randomAck(rng, -1); a != nil {
			l.single(a.item, start, resend)
		}
	default: // the same new key three times at once, to different instances
		it := l.newItem(ci, rng)
		var wg sync.WaitGroup
		for j := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				kind := fresh
				if j > 0 {
					kind = concurrent
				}
				l.single(it, start+j, kind)
			}()
		}
		wg.Wait()
	}
}

func (l *Load) randomAck(rng *rand.Rand, client int) *Ack {
	l.mu.Lock()
	defer l.mu.Unlock()
	for range 5 {
		if len(l.ackList) == 0 {
			return nil
		}
		if a := l.ackList[rng.IntN(len(l.ackList))]; client < 0 || a.item.client == client {
			return a
		}
	}
	return nil
}

func (l *Load) violate(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.violations) < 200 {
		l.violations = append(l.violations, fmt.Sprintf(format, args...))
	}
}

// sendKind says why a key is sent.
type sendKind int

const (
	fresh      sendKind = iota // the first send of a new key
	resend                     // a deliberate duplicate of an acknowledged key
	concurrent                 // a deliberate duplicate racing the first send
)

// single sends one email with its key.
func (l *Load) single(it *item, start int, kind sendKind) {
	c := l.cfg.Clients[it.client]
	if kind != fresh {
		l.dupSends.Add(1)
	}
	got, err := l.client(it.client, start).IngestJSON(context.Background(), it.key, it.input)
	if err != nil {
		l.refused(err, "%s/%s: POST /v1/emails of a valid email", c.Name, it.key)
		return
	}
	l.ack(it, got.Email.Id, got.Email.ContentHash, got.Replay, kind)
}

// refused records a call that ended without a 2xx: a violation when its
// answer is final, nothing when the client gave up retrying (the key stays
// unacknowledged and is reported at the end).
func (l *Load) refused(err error, format string, args ...any) {
	if apiclient.Retryable(err) {
		return
	}
	var pe *apiclient.ProblemError
	if errors.As(err, &pe) {
		l.violate(format+" answered %d (not retryable): %.300s", append(args, pe.Status, pe.Body)...)
		return
	}
	l.violate(format+": %v", append(args, err)...)
}

// batch sends items (one client's) in one request and resends the items
// answered with a retryable per-item status.
func (l *Load) batch(items []*item, dups map[*item]bool, start int) {
	c := l.cfg.Clients[items[0].client]
	l.dupSends.Add(int64(len(dups)))
	pending := items
	for round := 0; len(pending) > 0 && round < 100; round++ {
		req := make([]apiclient.BatchItem, len(pending))
		for i, it := range pending {
			req[i] = apiclient.BatchItem{IdempotencyKey: it.key, Email: it.input}
		}
		resp, err := l.client(items[0].client, start+round).IngestBatch(context.Background(), req)
		if err != nil {
			l.refused(err, "%s: POST /v1/emails/batch of %d valid emails", c.Name, len(pending))
			return
		}
		var again []*item
		for i, r := range resp.Results {
			it := pending[i]
			switch {
			case r.IdempotencyKey != it.key:
				l.violate("%s: batch result %d is for key %q, sent %q", c.Name, i, r.IdempotencyKey, it.key)
			case (r.Status == 200 || r.Status == 201) && r.Email != nil:
				kind := fresh
				if dups[it] {
					kind = resend
				}
				l.ack(it, r.Email.Id, r.Email.ContentHash, r.Replayed != nil && *r.Replayed, kind)
			case r.Error != nil && apiclient.RetryableStatus(int(r.Status), r.Error.Type):
				l.out.add(l.cfg.Timeline.Phase(), fmt.Sprintf("batch-item-%d", r.Status))
				again = append(again, it)
			default:
				l.violate("%s/%s: batch item answered %d for a valid email: %+v", c.Name, it.key, r.Status, r.Error)
			}
		}
		pending = again
		if len(again) > 0 {
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// ack records an acknowledgement and checks it against earlier ones.
func (l *Load) ack(it *item, id int64, hash string, replayed bool, kind sendKind) {
	c := l.cfg.Clients[it.client]
	if replayed {
		l.replayed.Add(1)
	}
	if kind != fresh {
		l.dupAnswered.Add(1)
		if replayed {
			l.dupReplayed.Add(1)
		}
	}
	if hash != it.expected {
		l.violate("%s/%s: acknowledged content_hash %s, but the content sent hashes to %s", c.Name, it.key, hash, it.expected)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	k := ident(it.client, it.key)
	a := l.acks[k]
	if a == nil {
		a = &Ack{Client: c.Name, Key: it.key, MessageID: it.input.MessageId, ID: id, Hash: hash, Expected: it.expected, item: it}
		l.acks[k] = a
		l.ackList = append(l.ackList, a)
		l.slowestAck = max(l.slowestAck, time.Since(it.first))
		return
	}
	if a.ID != id {
		l.violations = append(l.violations, fmt.Sprintf("DOUBLED: %s/%s acknowledged as email %d and as email %d", c.Name, it.key, a.ID, id))
	}
	if kind == resend && !replayed && a.ID == id {
		// A deliberate resend of an acknowledged key must say it is a replay
		// (concurrent duplicates race the first send and are exempt).
		l.violations = append(l.violations, fmt.Sprintf("%s/%s: a resend of acknowledged email %d was not marked as a replay", c.Name, it.key, id))
	}
}
