package db

import (
	"context"
	"time"

	"mailsync/internal/db/gen"
)

// TryMaintenanceLock takes the maintenance advisory lock for the rest of
// the transaction q runs in and reports whether it got it: one retention
// pass at a time across instances. false means another instance holds it.
// Outside a transaction the lock is let go at once. Errors are named "try
// maintenance lock".
func (q *Queries) TryMaintenanceLock(ctx context.Context) (bool, error) {
	ok, err := q.g.TryMaintenanceLock(ctx)
	return ok, wrap("try maintenance lock", err)
}

// DeleteProcessedOutbox deletes up to limit outbox rows created before
// before that the relay has processed, oldest first, and returns how many
// it deleted. Unprocessed rows and dead letters stay. Errors are named
// "delete processed outbox".
func (q *Queries) DeleteProcessedOutbox(ctx context.Context, before time.Time, limit int32) (int64, error) {
	n, err := q.g.DeleteProcessedOutbox(ctx, gen.DeleteProcessedOutboxParams{Before: before, RowLimit: limit})
	return n, wrap("delete processed outbox", err)
}

// DeleteExpiredIdempotencyKeys deletes up to limit idempotency records that
// expired before before, oldest first, and returns how many it deleted.
// Errors are named "delete expired idempotency keys".
func (q *Queries) DeleteExpiredIdempotencyKeys(ctx context.Context, before time.Time, limit int32) (int64, error) {
	n, err := q.g.DeleteExpiredIdempotencyKeys(ctx, gen.DeleteExpiredIdempotencyKeysParams{Before: before, RowLimit: limit})
	return n, wrap("delete expired idempotency keys", err)
}
