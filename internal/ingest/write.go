package ingest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"mailsync/internal/apperr"
	"mailsync/internal/db"
	"mailsync/internal/email"
	"mailsync/internal/tracing"
)

// job is one item of one client in a write transaction.
type job struct {
	clientID string
	item     *Item
	trace    db.TraceContext // of the request, stored with the outbox record
}

// newJob is the job of it for clientID in the request of ctx.
func newJob(ctx context.Context, clientID string, it *Item) job {
	return job{clientID: clientID, item: it, trace: traceOf(ctx)}
}

// traceOf is the trace context of the span in ctx, as stored with an
// outbox record (empty while tracing is off).
func traceOf(ctx context.Context) db.TraceContext {
	c := tracing.Carry(ctx)
	if c.Parent == "" {
		return db.TraceContext{}
	}
	return db.TraceContext{Parent: c.Parent, State: c.State, TraceID: c.TraceID()}
}

// maxAttempts bounds the transactions tried when PostgreSQL aborts one as a
// deadlock victim or for a serialization failure.
const maxAttempts = 4

// writeRetrying runs write, retrying a transaction that PostgreSQL aborted
// as a deadlock victim or serialization failure, and maps the errors a
// client may retry on to apperr codes.
func (s *Service) writeRetrying(ctx context.Context, jobs []job) ([]Result, int, error) {
	for attempt := 1; ; attempt++ {
		results, inserted, err := s.write(ctx, jobs)
		switch {
		case err == nil:
			return results, inserted, nil
		case isTransient(err) && attempt < maxAttempts && ctx.Err() == nil:
			continue
		case isBlobGone(err) && attempt < maxAttempts && ctx.Err() == nil:
			if err := s.stage(ctx, itemsOf(jobs), true); err != nil {
				return nil, 0, err
			}
			continue
		case isTransient(err), db.IsLockTimeout(err):
			return nil, 0, apperr.New(apperr.Conflict, "a request with this Idempotency-Key is still being processed; retry later")
		case db.IsUnavailable(err):
			return nil, 0, apperr.New(apperr.Unavailable, "the database is unavailable; retry later with the same Idempotency-Key")
		default:
			return nil, 0, err
		}
	}
}

// isTransient reports a deadlock victim (40P01) or a serialization failure
// (40001): the transaction did nothing and may simply be run again.
func isTransient(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001")
}

// write stores jobs in one transaction of pipelined statements and returns a
// result per job, in order, and how many emails were stored. (client, key)
// pairs must be unique within jobs. Keys are claimed in (client, key) order,
// so two transactions holding the same keys wait for each other instead of
// deadlocking.
func (s *Service) write(ctx context.Context, jobs []job) ([]Result, int, error) {
	order := make([]int, len(jobs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		return cmp.Or(cmp.Compare(jobs[a].clientID, jobs[b].clientID), cmp.Compare(jobs[a].item.Key, jobs[b].item.Key))
	})
	sorted := make([]job, len(jobs))
	for i, j := range order {
		sorted[i] = jobs[j]
	}
	results := make([]Result, len(jobs))
	inserted := 0
	// BEGIN travels with the claims and COMMIT with the completions: three
	// round trips per transaction (claims, inserts, completions).
	err := db.InPipelinedTx(ctx, s.pool, func(q *db.Queries) error {
		inserted = 0
		claimed, err := s.claimKeys(ctx, q, sorted)
		if err != nil {
			return err
		}
		stored, err := s.insertEmails(ctx, q, sorted, claimed)
		if err != nil {
			return err
		}
		if err := claimBlobs(ctx, q, sorted, storedIDs(stored)); err != nil {
			return err
		}
		complete := make([]db.KeyCompletion, 0, len(stored))
		for i, jb := range sorted {
			var r Result
			switch {
			case claimed[i] == 0:
				r, err = s.existingKey(ctx, q, jb)
			case stored[i] != nil:
				inserted++
				r, err = s.rendered(http.StatusCreated, stored[i], false)
			default: // key record expired and was deleted, the email is still there
				r, err = s.existingEmail(ctx, q, jb)
			}
			if err != nil {
				return err
			}
			results[order[i]] = r
			if claimed[i] != 0 {
				complete = append(complete, completion(claimed[i], r))
			}
		}
		q.CommitWithNextBatch()
		return q.CompleteIdempotencyKeys(ctx, complete)
	})
	if err != nil {
		return nil, 0, err
	}
	return results, inserted, nil
}

// claimKeys claims the key of each job and returns the id of each new key
// record, or 0 where the key was used before.
func (s *Service) claimKeys(ctx context.Context, q *db.Queries, jobs []job) ([]int64, error) {
	claims := make([]db.KeyClaim, len(jobs))
	expires := time.Now().Add(s.cfg.IdempotencyTTL)
	for i, jb := range jobs {
		claims[i] = db.KeyClaim{ClientID: jb.clientID, Key: jb.item.Key, Fingerprint: jb.item.Fingerprint, ExpiresAt: expires}
	}
	return q.ClaimIdempotencyKeys(ctx, claims)
}

// insertEmails inserts the emails of the claimed jobs and returns, per job,
// the email stored, or nil when there is none (not claimed, or the client
// already stored an email under the key).
func (s *Service) insertEmails(ctx context.Context, q *db.Queries, jobs []job, claimed []int64) ([]*email.Stored, error) {
	emails := make([]db.NewEmail, 0, len(jobs))
	index := make([]int, 0, len(jobs))
	for i, jb := range jobs {
		if claimed[i] != 0 {
			c := jb.item.Content
			c.ClientID = jb.clientID
			emails = append(emails, db.NewEmail{Content: c, Hash: jb.item.hash(jb.clientID), Key: jb.item.Key,
				Fingerprint: jb.item.Fingerprint, Trace: jb.trace})
			index = append(index, i)
		}
	}
	rows, err := q.InsertEmails(ctx, emails, s.cfg.MaxRetries)
	if err != nil {
		return nil, err
	}
	stored := make([]*email.Stored, len(jobs))
	for j := range rows {
		if rows[j].ID != 0 {
			stored[index[j]] = &rows[j]
		}
	}
	return stored, nil
}

// hash is the item's content hash as stored for clientID.
func (it *Item) hash(clientID string) string {
	if it.Hash != "" {
		return it.Hash
	}
	c := it.Content
	c.ClientID = clientID
	it.Hash = c.Hash()
	return it.Hash
}

// existingKey answers a key that another request already used.
func (s *Service) existingKey(ctx context.Context, q *db.Queries, jb job) (Result, error) {
	k, ok, err := q.FindIdempotencyKey(ctx, jb.clientID, jb.item.Key)
	if err != nil {
		return Result{}, err
	}
	if !ok {
		return Result{}, errors.New("get idempotency key: the record was deleted after its claim failed")
	}
	if keyErased(k) {
		return goneResult(), nil
	}
	if !k.Completed() || k.ResponseStatus == 0 {
		return Result{}, apperr.New(apperr.Conflict, "a request with this Idempotency-Key is still being processed; retry later")
	}
	if time.Now().After(k.ExpiresAt) {
		return s.existingEmail(ctx, q, jb)
	}
	if k.ResourceID == 0 || !jb.item.sameRequest(k.RequestFingerprint) {
		// A key whose first use was refused has no resource and no body.
		return keyReused(), nil
	}
	return s.replay(ctx, q, k)
}

// replay answers a completed key record with its status and its email as
// the row holds it now (the record keeps no copy of the content), read
// under a row lock that an erasure waits for; an erased email is a 410.
func (s *Service) replay(ctx context.Context, q *db.Queries, k db.IdempotencyKey) (Result, error) {
	e, err := q.EmailForReplay(ctx, k.ResourceID)
	if err != nil {
		return Result{}, err
	}
	if e.Erased() {
		return goneResult(), nil
	}
	return s.rendered(k.ResponseStatus, &e, true)
}

// existingEmail answers a key whose record has expired: the email stored
// under it is returned (200) when the request is the same (its fingerprint,
// so a later PATCH of the email does not matter), and a different request
// is refused, so a key never stores a second email. The email is read under
// a row lock that an erasure waits for; an erased one is a 410.
func (s *Service) existingEmail(ctx context.Context, q *db.Queries, jb job) (Result, error) {
	e, fingerprint, ok, err := q.FindEmailByKey(ctx, jb.clientID, jb.item.Key)
	if err != nil {
		return Result{}, err
	}
	if !ok {
		return keyReused(), nil
	}
	if e.Erased() {
		return goneResult(), nil
	}
	if fingerprint != "" {
		if !jb.item.sameRequest(fingerprint) {
			return keyReused(), nil
		}
		return s.rendered(http.StatusOK, &e, true)
	}
	// Stored before fingerprints were kept: the content must be the same.
	hash := jb.item.hash(jb.clientID)
	if jb.item.ReceivedAtFirstSeen {
		// The request's own time stood in for a date the message lacks: the
		// stored email's received_at is when the key was first seen.
		c := jb.item.Content
		c.ClientID, c.ReceivedAt = jb.clientID, e.ReceivedAt
		hash = c.Hash()
	}
	if hash != e.ContentHash {
		return keyReused(), nil
	}
	return s.rendered(http.StatusOK, &e, true)
}

// rendered is the result that answers with email e and the given status.
func (s *Service) rendered(status int, e *email.Stored, replayed bool) (Result, error) {
	body, err := s.cfg.Render(*e)
	if err != nil {
		return Result{}, fmt.Errorf("render email %d: %w", e.ID, err)
	}
	return Result{Status: status, Body: body, ID: e.ID, Email: e, Replayed: replayed}, nil
}

func keyReused() Result {
	return Result{Status: http.StatusUnprocessableEntity, Err: apperr.New(apperr.KeyReused,
		"this Idempotency-Key was already used for a different request")}
}

// completion is the record of result r under the claimed key record id.
func completion(id int64, r Result) db.KeyCompletion {
	c := db.KeyCompletion{ID: id, Status: r.Status}
	if r.Email != nil {
		c.ResourceID = r.Email.ID
	}
	return c
}
