package db

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"mailsync/internal/db/gen"
)

// Idempotency keys: a request that carries an Idempotency-Key claims the
// key's record first (inserting it in progress), does its work, and
// completes the record with the status it answered and the resource it
// created (never a copy of the response's content: a replay renders the
// resource as it is now), all in one transaction.
// A later request under the same key finds the record and is answered from
// it. The claim waits for a transaction still holding the same key, so two
// requests under one key never both do the work.

// Key record statuses.
const (
	KeyInProgress = "in_progress" // claimed by a transaction not yet committed
	KeyCompleted  = "completed"   // the response is recorded
)

// IdempotencyKey is the record of one Idempotency-Key of one client.
type IdempotencyKey struct {
	ID                 int64
	ClientID           string
	Key                string
	RequestFingerprint string // identifies the request first made under Key
	Status             string // KeyInProgress or KeyCompleted
	// ResponseStatus is the HTTP status of the recorded response; 0 while
	// none is recorded. Erasing the email stored under the key sets it to
	// 410.
	ResponseStatus int
	ResourceID     int64 // what the request created (an email, a job); 0 when nothing
	CreatedAt      time.Time
	ExpiresAt      time.Time // when the cached response stops being replayed
}

// Completed reports whether the request that claimed k has committed its
// response.
func (k IdempotencyKey) Completed() bool { return k.Status == KeyCompleted }

// KeyClaim asks to claim one key with ClaimIdempotencyKeys.
type KeyClaim struct {
	ClientID    string
	Key         string
	Fingerprint string    // identifies the request under Key
	ExpiresAt   time.Time // when its response stops being replayed
}

// KeyCompletion records the response given under a claimed key.
type KeyCompletion struct {
	ID         int64 // the record, as ClaimIdempotencyKeys returned it
	Status     int   // the HTTP status of the response
	ResourceID int64 // what the request created; 0 for nothing
}

// ClaimIdempotencyKeys inserts a record in progress for each claim, in the
// order given, pipelined in one round trip, and returns the id of each new
// record, or 0 where the client's key already has one. A key held by a
// transaction still in flight makes its claim wait until that transaction
// ends (up to the pool's lock_timeout); callers that claim several keys
// claim them in (client, key) order, so that two transactions never wait
// for each other. The error, if any, is the first statement's that failed
// (naming "claim idempotency key"); a lock timeout, deadlock or
// serialization failure is left in the chain for the caller to inspect.
func (q *Queries) ClaimIdempotencyKeys(ctx context.Context, claims []KeyClaim) ([]int64, error) {
	if len(claims) == 0 {
		return nil, nil
	}
	params := make([]gen.ClaimIdempotencyKeyParams, len(claims))
	for i, c := range claims {
		params[i] = gen.ClaimIdempotencyKeyParams{ClientID: c.ClientID, Key: c.Key,
			RequestFingerprint: c.Fingerprint, ExpiresAt: c.ExpiresAt}
	}
	ids := make([]int64, len(claims))
	var firstErr error
	q.g.ClaimIdempotencyKey(ctx, params).QueryRow(func(i int, id int64, err error) {
		switch {
		case err == nil:
			ids[i] = id
		case !errors.Is(err, pgx.ErrNoRows) && firstErr == nil:
			firstErr = err
		}
	})
	return ids, wrap("claim idempotency key", firstErr)
}

// ClaimIdempotencyKey claims one key as ClaimIdempotencyKeys does and
// returns the id of the new record, or 0 when the key already has one.
func (q *Queries) ClaimIdempotencyKey(ctx context.Context, c KeyClaim) (int64, error) {
	ids, err := q.ClaimIdempotencyKeys(ctx, []KeyClaim{c})
	if err != nil {
		return 0, err
	}
	return ids[0], nil
}

// CompleteIdempotencyKeys records each response under its claimed record,
// pipelined in one round trip. The error, if any, is the first statement's
// that failed, naming "complete idempotency key".
func (q *Queries) CompleteIdempotencyKeys(ctx context.Context, cs []KeyCompletion) error {
	if len(cs) == 0 {
		return nil
	}
	statuses := make([]int32, len(cs)) // the status parameters point here
	params := make([]gen.CompleteIdempotencyKeyParams, len(cs))
	for i := range cs {
		c := &cs[i]
		statuses[i] = int32(c.Status)
		params[i] = gen.CompleteIdempotencyKeyParams{ID: c.ID, ResponseStatus: &statuses[i]}
		if c.ResourceID != 0 {
			params[i].ResourceID = &c.ResourceID
		}
	}
	var firstErr error
	q.g.CompleteIdempotencyKey(ctx, params).Exec(func(_ int, err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	})
	return wrap("complete idempotency key", firstErr)
}

// CompleteIdempotencyKey records one response as CompleteIdempotencyKeys
// does.
func (q *Queries) CompleteIdempotencyKey(ctx context.Context, c KeyCompletion) error {
	return q.CompleteIdempotencyKeys(ctx, []KeyCompletion{c})
}

// FindIdempotencyKey returns the record of clientID's key; ok is false when
// there is none (never claimed, or expired and deleted). Other errors name
// "get idempotency key".
func (q *Queries) FindIdempotencyKey(ctx context.Context, clientID, key string) (k IdempotencyKey, ok bool, err error) {
	r, err := q.g.GetIdempotencyKey(ctx, gen.GetIdempotencyKeyParams{ClientID: clientID, Key: key})
	if errors.Is(err, pgx.ErrNoRows) {
		return IdempotencyKey{}, false, nil
	}
	if err != nil {
		return IdempotencyKey{}, false, wrap("get idempotency key", err)
	}
	k = IdempotencyKey{ID: r.ID, ClientID: r.ClientID, Key: r.Key, RequestFingerprint: r.RequestFingerprint,
		Status: r.Status, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt}
	if r.ResponseStatus != nil {
		k.ResponseStatus = int(*r.ResponseStatus)
	}
	if r.ResourceID != nil {
		k.ResourceID = *r.ResourceID
	}
	return k, true, nil
}
