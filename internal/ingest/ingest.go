// Package ingest stores incoming emails exactly once: it validates and
// normalises them, applies the Idempotency-Key rules, and writes the key
// record, the email row and its outbox record in one transaction.
// Concurrent single-email requests are group-committed: gathered for about a
// millisecond into one transaction, each answered after that commit with the
// outcome it would have had alone.
package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"mailsync/internal/email"
)

// Config tunes a Service; zero fields take the defaults of NewService.
type Config struct {
	// IdempotencyTTL is how long a key's record is kept (24h); after it, a
	// retry is recognised by the fingerprint stored with the email.
	IdempotencyTTL time.Duration
	// MaxRetries is the relay attempts given to each new outbox record (10).
	MaxRetries int32
	// Render encodes the response body of a stored email. Required.
	Render func(email.Stored) ([]byte, error)
	// Committed, when set, is called after a commit that stored new emails
	// (the relay's wake-up; never called inside the transaction).
	Committed func(n int)
	// Metrics, when set, counts outcomes.
	Metrics Metrics
	// GroupWindow is how long IngestOne gathers concurrent requests into
	// one transaction (1ms); negative means no waiting.
	GroupWindow time.Duration
	// GroupMax bounds the requests in one group transaction (128).
	GroupMax int
	// GroupInFlight bounds the group transactions running at once (4).
	GroupInFlight int
	// GroupTimeout bounds one group transaction (30s).
	GroupTimeout time.Duration
	// QueueMax bounds the IngestOne calls admitted and not yet answered
	// by their group, or dropped (1024); beyond it Admit refuses.
	QueueMax int
	// QueueBytes bounds the request bytes of those calls (100 MiB); a
	// call weighs what Admit was told.
	QueueBytes int64
}

// Metrics receives ingest outcomes.
type Metrics interface {
	Ingested(n int)
	Replayed(n int)
}

// Service is the ingest write path.
type Service struct {
	pool *pgxpool.Pool
	cfg  Config
	g    gatherer
	room queueRoom
}

// NewService returns a Service writing to pool, with cfg's defaults filled in.
func NewService(pool *pgxpool.Pool, cfg *Config) *Service {
	c := *cfg
	if c.IdempotencyTTL <= 0 {
		c.IdempotencyTTL = 24 * time.Hour
	}
	if c.MaxRetries <= 0 {
		c.MaxRetries = 10
	}
	if c.GroupWindow == 0 {
		c.GroupWindow = time.Millisecond
	}
	if c.GroupMax <= 0 {
		c.GroupMax = 128
	}
	if c.GroupInFlight <= 0 {
		c.GroupInFlight = 4
	}
	if c.GroupTimeout <= 0 {
		c.GroupTimeout = 30 * time.Second
	}
	if c.QueueMax <= 0 {
		c.QueueMax = 1024
	}
	if c.QueueBytes <= 0 {
		c.QueueBytes = 100 << 20
	}
	s := &Service{pool: pool, cfg: c}
	s.g.full = make(chan struct{}, 1)
	s.g.slots = make(chan struct{}, c.GroupInFlight)
	return s
}

// Item is one email to store under one idempotency key. Content must have
// passed Validate; Fingerprint identifies the request (see Fingerprint).
// NewItem fills every field for content received as JSON.
type Item struct {
	Key         string
	Fingerprint string
	Content     email.Content
	// ReceivedAtFirstSeen reports that Content.ReceivedAt is the time of
	// this request (a raw message without a date): it stands for the time
	// the key was first seen, so a retry after the key's record expired
	// takes the stored email's received_at and is the same request.
	ReceivedAtFirstSeen bool
	// Hash is the content hash with the client id set; empty means compute it.
	Hash string
	// Blobs are the bytes stored with the email: its raw message and
	// attachments (see Blob).
	Blobs []Blob
	// overflowAdded: the blobs of fields too big for the MongoDB document
	// are in Blobs.
	overflowAdded bool
	// legacy, when set, computes the fingerprint earlier releases stored for
	// the same request, so a retry across an upgrade is still recognised.
	legacy func(*Item) string
}

// Result is one item's outcome: Status and Body are the HTTP response to
// send (on a replay too, Body renders the email as its row is now); Err is
// set instead for a 4xx outcome of this item alone. ID is the email's id
// whenever there is one.
type Result struct {
	Status   int
	Body     []byte
	ID       int64
	Email    *email.Stored // nil on an error
	Replayed bool
	Err      error
}

// Fingerprint is the SHA-256 of method, path and canonical body that tells a
// retry from a different request under the same key.
func Fingerprint(method, path string, canonicalBody []byte) string {
	h := sha256.New()
	h.Write([]byte(method + " " + path + "\n"))
	h.Write(canonicalBody)
	return hex.EncodeToString(h.Sum(nil))
}

// NewItem is the item for validated content c received as JSON from
// clientID under key. The canonical JSON is computed once and gives both the
// request fingerprint and the content hash.
func NewItem(clientID, key string, c email.Content) Item {
	c.ClientID = clientID
	canon := c.Canonical()
	return Item{
		Key: key, Content: c, Hash: email.HashOf(canon),
		Fingerprint: Fingerprint(http.MethodPost, "/v1/emails", canon),
		legacy:      legacyJSONFingerprint,
	}
}

// legacyJSONFingerprint is the fingerprint earlier releases stored for
// content received as JSON: that of the content's JSON without the client id.
func legacyJSONFingerprint(it *Item) string {
	old := it.Content
	old.ClientID = ""
	b, _ := json.Marshal(old)
	return Fingerprint(http.MethodPost, "/v1/emails", b)
}

// sameRequest reports whether fingerprint, as stored for an earlier request
// under the same key, identifies the same request as it.
func (it *Item) sameRequest(fingerprint string) bool {
	return fingerprint == it.Fingerprint || (it.legacy != nil && fingerprint == it.legacy(it))
}

// Ingest stores items for clientID in one transaction and returns a result
// per item, in order. Keys must be unique within items. A key held by a
// transaction still in flight is waited for (up to the pool's lock_timeout);
// past that Ingest returns an apperr Conflict and stores nothing. A deadlock
// or serialization failure is retried a few times, then answered with an
// apperr Conflict. Any other error means nothing was stored, and a retry is a
// first request.
func (s *Service) Ingest(ctx context.Context, clientID string, items []Item) ([]Result, error) {
	jobs := make([]job, len(items))
	for i := range items {
		jobs[i] = newJob(ctx, clientID, &items[i])
	}
	defer s.release(itemsOf(jobs))
	if err := s.stage(ctx, itemsOf(jobs), false); err != nil {
		return nil, s.stageFailed(err)
	}
	results, inserted, err := s.writeRetrying(ctx, jobs)
	if err != nil {
		return nil, err
	}
	s.committed(inserted, len(items)-inserted)
	return results, nil
}

// IngestOne stores one item for clientID, group-committed with concurrent
// calls, and returns exactly what Ingest would return for it alone. A
// failure of the group's transaction is retried for each request alone, so
// no request fails because of another. ctx should carry the request's
// Ticket (WithTicket); without one IngestOne admits the call itself and
// returns Admit's error when the queue is full. When ctx ends before the
// call's group starts, the call is dropped: nothing is written, and
// ctx.Err() comes back; when it ends while the group is being written, the
// email may be stored (a retry is then answered as a replay).
func (s *Service) IngestOne(ctx context.Context, clientID string, it Item) (Result, error) {
	t := ticketOf(ctx, s)
	if t == nil {
		var err error
		if t, err = s.Admit(0); err != nil {
			return Result{}, err
		}
		defer t.Release()
	}
	if err := s.stage(ctx, []*Item{&it}, false); err != nil {
		s.release([]*Item{&it})
		return Result{}, s.stageFailed(err)
	}
	t.ref() // held by the call until it is answered or dropped
	c := &call{ctx: ctx, job: newJob(ctx, clientID, &it), done: make(chan struct{}), ticket: t}
	s.enqueue(c)
	select {
	case <-c.done:
		s.release([]*Item{&it})
		return c.res, c.err
	case <-ctx.Done():
		if s.drop(c) {
			s.release([]*Item{&it})
		} else { // the group took it and may still claim the uploads
			go func() { <-c.done; s.release([]*Item{&it}) }()
		}
		return Result{}, ctx.Err()
	}
}

// committed runs the after-commit hooks.
func (s *Service) committed(inserted, replayed int) {
	if inserted > 0 && s.cfg.Committed != nil {
		s.cfg.Committed(inserted)
	}
	if m := s.cfg.Metrics; m != nil {
		m.Ingested(inserted)
		m.Replayed(replayed)
	}
}
