// Package ingest stores incoming emails exactly once: it validates and
// normalises them, applies the Idempotency-Key rules, and writes the key
// record, the email row and its outbox record in one transaction.
package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"mailsync/internal/apperr"
	"mailsync/internal/db"
	"mailsync/internal/db/gen"
	"mailsync/internal/email"
)

// Config tunes a Service; zero fields take the defaults of NewService.
type Config struct {
	// IdempotencyTTL is how long a key's cached response is replayed (24h).
	IdempotencyTTL time.Duration
	// MaxRetries is the relay attempts given to each new outbox record (10).
	MaxRetries int32
	// Render encodes the response body cached for a stored email. Required.
	Render func(email.Stored) ([]byte, error)
	// Committed, when set, is called after a commit that stored new emails
	// (the relay's wake-up; never called inside the transaction).
	Committed func(n int)
	// Metrics, when set, counts outcomes.
	Metrics Metrics
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
	return &Service{pool: pool, cfg: c}
}

// Item is one email to store under one idempotency key. Content must have
// passed Validate; Fingerprint identifies the request (see Fingerprint).
type Item struct {
	Key         string
	Fingerprint string
	Content     email.Content
	// ReceivedAtFirstSeen reports that Content.ReceivedAt is the time of
	// this request (a raw message without a date): it stands for the time
	// the key was first seen, so a retry after the key's record expired
	// takes the stored email's received_at and is the same request.
	ReceivedAtFirstSeen bool
}

// Result is one item's outcome: Status and Body are the HTTP response to
// send (Body is the cached bytes on a replay); Err is set instead for a 4xx
// outcome of this item alone.
type Result struct {
	Status   int
	Body     []byte
	Email    *email.Stored // nil on a cached replay or an error
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

// Ingest stores items for clientID in one transaction and returns a result
// per item, in order. Keys must be unique within items. A key held by a
// transaction still in flight is waited for (up to the pool's lock_timeout);
// past that Ingest returns an apperr Conflict and stores nothing. Any other
// error means nothing was stored, and a retry is a first request.
func (s *Service) Ingest(ctx context.Context, clientID string, items []Item) ([]Result, error) {
	results := make([]Result, len(items))
	inserted := 0
	err := db.InTx(ctx, s.pool, func(q *gen.Queries, tx pgx.Tx) error {
		inserted = 0
		for i := range results {
			results[i] = Result{}
		}
		claimed, err := s.claimKeys(ctx, q, clientID, items)
		if err != nil {
			return err
		}
		stored, err := s.insertEmails(ctx, q, clientID, items, claimed)
		if err != nil {
			return err
		}
		var complete []gen.CompleteIdempotencyKeyParams
		for i, it := range items {
			switch {
			case claimed[i] == 0:
				results[i], err = s.existingKey(ctx, q, clientID, it)
			case stored[i] != nil:
				inserted++
				results[i], err = s.rendered(http.StatusCreated, stored[i], false)
			default: // key record expired and was deleted, the email is still there
				results[i], err = s.existingEmail(ctx, q, clientID, it)
			}
			if err != nil {
				return err
			}
			if claimed[i] != 0 {
				complete = append(complete, completion(claimed[i], results[i]))
			}
		}
		return execBatch(q.CompleteIdempotencyKey(ctx, complete))
	})
	if err != nil {
		if db.IsLockTimeout(err) {
			return nil, apperr.New(apperr.Conflict, "a request with this Idempotency-Key is still being processed; retry later")
		}
		if db.IsUnavailable(err) {
			return nil, apperr.New(apperr.Unavailable, "the database is unavailable; retry later with the same Idempotency-Key")
		}
		return nil, err
	}
	if inserted > 0 && s.cfg.Committed != nil {
		s.cfg.Committed(inserted)
	}
	if m := s.cfg.Metrics; m != nil {
		m.Ingested(inserted)
		m.Replayed(len(items) - inserted)
	}
	return results, nil
}

func (s *Service) claimKeys(ctx context.Context, q *gen.Queries, clientID string, items []Item) ([]int64, error) {
	params := make([]gen.ClaimIdempotencyKeyParams, len(items))
	expires := time.Now().Add(s.cfg.IdempotencyTTL)
	for i, it := range items {
		params[i] = gen.ClaimIdempotencyKeyParams{ClientID: clientID, Key: it.Key, RequestFingerprint: it.Fingerprint, ExpiresAt: expires}
	}
	ids := make([]int64, len(items))
	var firstErr error
	q.ClaimIdempotencyKey(ctx, params).QueryRow(func(i int, id int64, err error) {
		switch {
		case err == nil:
			ids[i] = id
		case !errors.Is(err, pgx.ErrNoRows) && firstErr == nil:
			firstErr = err
		}
	})
	return ids, firstErr
}

func (s *Service) insertEmails(ctx context.Context, q *gen.Queries, clientID string, items []Item, claimed []int64) ([]*email.Stored, error) {
	var params []gen.InsertEmailParams
	var index []int
	for i, it := range items {
		if claimed[i] != 0 {
			c := it.Content
			c.ClientID = clientID
			params = append(params, db.InsertEmailParams(c, it.Key, s.cfg.MaxRetries))
			index = append(index, i)
		}
	}
	stored := make([]*email.Stored, len(items))
	var firstErr error
	q.InsertEmail(ctx, params).QueryRow(func(j int, row gen.InsertEmailRow, err error) {
		if err != nil {
			if !errors.Is(err, pgx.ErrNoRows) && firstErr == nil {
				firstErr = err
			}
			return
		}
		e, err := db.EmailFromRow(gen.IncomingEmail(row))
		if err != nil && firstErr == nil {
			firstErr = err
		}
		stored[index[j]] = &e
	})
	return stored, firstErr
}

// existingKey answers a key that another request already completed.
func (s *Service) existingKey(ctx context.Context, q *gen.Queries, clientID string, it Item) (Result, error) {
	k, err := q.GetIdempotencyKey(ctx, gen.GetIdempotencyKeyParams{ClientID: clientID, Key: it.Key})
	if err != nil {
		return Result{}, err
	}
	if keyErased(k) {
		return goneResult(), nil
	}
	if k.Status != "completed" || k.ResponseStatus == nil {
		return Result{}, apperr.New(apperr.Conflict, "a request with this Idempotency-Key is still being processed; retry later")
	}
	if time.Now().After(k.ExpiresAt) {
		return s.existingEmail(ctx, q, clientID, it)
	}
	if k.RequestFingerprint != it.Fingerprint || k.ResourceID == nil {
		// A key whose first use was refused has no resource and no body.
		return keyReused(), nil
	}
	return Result{Status: int(*k.ResponseStatus), Body: k.ResponseBody, Replayed: true}, nil
}

// existingEmail answers a key whose cached response has expired: the email
// stored under it is returned (200) when the content is the same, and a
// different content is refused, so a key never stores a second email.
func (s *Service) existingEmail(ctx context.Context, q *gen.Queries, clientID string, it Item) (Result, error) {
	row, err := q.GetEmailByIdempotencyKey(ctx, gen.GetEmailByIdempotencyKeyParams{ClientID: clientID, IdempotencyKey: &it.Key})
	if errors.Is(err, pgx.ErrNoRows) {
		return keyReused(), nil
	}
	if err != nil {
		return Result{}, err
	}
	if rowErased(row) {
		return goneResult(), nil
	}
	e, err := db.EmailFromRow(row)
	if err != nil {
		return Result{}, err
	}
	c := it.Content
	c.ClientID = clientID
	if it.ReceivedAtFirstSeen {
		c.ReceivedAt = e.ReceivedAt
	}
	if c.Hash() != e.ContentHash {
		return keyReused(), nil
	}
	return s.rendered(http.StatusOK, &e, true)
}

func (s *Service) rendered(status int, e *email.Stored, replayed bool) (Result, error) {
	body, err := s.cfg.Render(*e)
	return Result{Status: status, Body: body, Email: e, Replayed: replayed}, err
}

func keyReused() Result {
	return Result{Status: http.StatusUnprocessableEntity, Err: apperr.New(apperr.KeyReused,
		"this Idempotency-Key was already used for a different request")}
}

func completion(id int64, r Result) gen.CompleteIdempotencyKeyParams {
	status := int32(r.Status)
	p := gen.CompleteIdempotencyKeyParams{ID: id, ResponseStatus: &status, ResponseBody: r.Body}
	if r.Email != nil {
		p.ResourceID = &r.Email.ID
	}
	return p
}

func execBatch(b *gen.CompleteIdempotencyKeyBatchResults) error {
	var firstErr error
	b.Exec(func(_ int, err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	})
	return firstErr
}
