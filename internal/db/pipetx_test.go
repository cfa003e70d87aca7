package db_test

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"mailsync/internal/db"
	"mailsync/internal/db/dbtest"
)

// countingConn counts the writes to PostgreSQL: one per round trip.
type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// pipePool is a one-connection pool over a fresh database whose writes are
// counted.
func pipePool(t *testing.T) (*pgxpool.Pool, *atomic.Int64) {
	_, url := dbtest.New(t)
	cfg, err := pgxpool.ParseConfig(url)
	require.NoError(t, err)
	cfg.MaxConns = 1
	writes := &atomic.Int64{}
	cfg.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{c, writes}, nil
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool, writes
}

// claimAndComplete claims keys and completes them, committing with the
// completions: two batches.
func claimAndComplete(ctx context.Context, q *db.Queries, keys ...string) error {
	claims := make([]db.KeyClaim, len(keys))
	for i, k := range keys {
		claims[i] = db.KeyClaim{ClientID: "c", Key: k, Fingerprint: "f", ExpiresAt: time.Now().Add(time.Hour)}
	}
	ids, err := q.ClaimIdempotencyKeys(ctx, claims)
	if err != nil {
		return err
	}
	done := make([]db.KeyCompletion, len(ids))
	for i, id := range ids {
		done[i] = db.KeyCompletion{ID: id, Status: 201}
	}
	q.CommitWithNextBatch()
	return q.CompleteIdempotencyKeys(ctx, done)
}

func TestInPipelinedTxSendsBeginAndCommitWithTheBatches(t *testing.T) {
	t.Parallel()
	pool, writes := pipePool(t)
	ctx := context.Background()
	require.NoError(t, db.InPipelinedTx(ctx, pool, func(q *db.Queries) error { return claimAndComplete(ctx, q, "warm") }))
	writes.Store(0)
	require.NoError(t, db.InPipelinedTx(ctx, pool, func(q *db.Queries) error { return claimAndComplete(ctx, q, "a", "b") }))
	require.EqualValues(t, 2, writes.Load(), "BEGIN+claims, completions+COMMIT")
	require.Equal(t, 2, countRows(t, pool, "SELECT count(*) FROM idempotency_keys WHERE key IN ('a','b') AND status = 'completed'"))

	writes.Store(0)
	require.NoError(t, db.InPipelinedTx(ctx, pool, func(q *db.Queries) error { return nil }))
	require.Zero(t, writes.Load(), "a transaction that sends nothing costs nothing")
}

func TestInPipelinedTxCommitsAloneWhenNoBatchFollows(t *testing.T) {
	t.Parallel()
	pool, _ := pipePool(t)
	ctx := context.Background()
	require.NoError(t, db.InPipelinedTx(ctx, pool, func(q *db.Queries) error {
		_, err := q.ClaimIdempotencyKeys(ctx, []db.KeyClaim{{ClientID: "c", Key: "k", Fingerprint: "f", ExpiresAt: time.Now().Add(time.Hour)}})
		q.CommitWithNextBatch()
		return err
	}))
	require.Equal(t, 1, countRows(t, pool, "SELECT count(*) FROM idempotency_keys WHERE key = 'k'"))
}

func TestInPipelinedTxStoresNothingWhenFnFails(t *testing.T) {
	t.Parallel()
	pool, _ := pipePool(t)
	ctx := context.Background()
	boom := errors.New("boom")
	err := db.InPipelinedTx(ctx, pool, func(q *db.Queries) error {
		_, err := q.ClaimIdempotencyKeys(ctx, []db.KeyClaim{{ClientID: "c", Key: "k", Fingerprint: "f", ExpiresAt: time.Now().Add(time.Hour)}})
		require.NoError(t, err)
		return boom
	})
	require.ErrorIs(t, err, boom)
	require.Zero(t, countRows(t, pool, "SELECT count(*) FROM idempotency_keys"))
	// The one connection went back to the pool out of its transaction.
	require.NoError(t, db.InPipelinedTx(ctx, pool, func(q *db.Queries) error { return claimAndComplete(ctx, q, "next") }))
	require.Equal(t, 1, countRows(t, pool, "SELECT count(*) FROM idempotency_keys"))
}

func TestInPipelinedTxStoresNothingWhenTheLastBatchFails(t *testing.T) {
	t.Parallel()
	pool, _ := pipePool(t)
	ctx := context.Background()
	_, err := pool.Exec(ctx, `CREATE FUNCTION refuse_600() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN IF NEW.response_status = 600 THEN RAISE EXCEPTION '600 refused' USING ERRCODE = '23514'; END IF; RETURN NEW; END $$;
		CREATE TRIGGER refuse_600 BEFORE UPDATE ON idempotency_keys FOR EACH ROW EXECUTE FUNCTION refuse_600()`)
	require.NoError(t, err)
	require.NoError(t, db.InPipelinedTx(ctx, pool, func(q *db.Queries) error { return claimAndComplete(ctx, q, "k") }))
	err = db.InPipelinedTx(ctx, pool, func(q *db.Queries) error {
		if _, err := q.ClaimIdempotencyKeys(ctx, []db.KeyClaim{{ClientID: "c", Key: "other", Fingerprint: "f", ExpiresAt: time.Now().Add(time.Hour)}}); err != nil {
			return err
		}
		q.CommitWithNextBatch()
		// The trigger refuses status 600: the completion fails.
		return q.CompleteIdempotencyKeys(ctx, []db.KeyCompletion{{ID: 1, Status: 600}})
	})
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, 0, countRows(t, pool, "SELECT count(*) FROM idempotency_keys WHERE key = 'other'"), "rolled back")
}

func TestInPipelinedTxReportsAFailedCommit(t *testing.T) {
	t.Parallel()
	pool, _ := pipePool(t)
	ctx := context.Background()
	_, err := pool.Exec(ctx, `CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN IF NEW.key = 'boom' THEN RAISE EXCEPTION 'boom refused at commit' USING ERRCODE = '23514'; END IF; RETURN NEW; END $$;
		CREATE CONSTRAINT TRIGGER refuse_boom AFTER INSERT ON idempotency_keys DEFERRABLE INITIALLY DEFERRED
		FOR EACH ROW EXECUTE FUNCTION refuse_boom()`)
	require.NoError(t, err)
	err = db.InPipelinedTx(ctx, pool, func(q *db.Queries) error { return claimAndComplete(ctx, q, "fine", "boom") })
	require.ErrorContains(t, err, "commit: ")
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, "23514", pgErr.Code)
	require.Zero(t, countRows(t, pool, "SELECT count(*) FROM idempotency_keys"), "nothing stored")
	require.NoError(t, db.InPipelinedTx(ctx, pool, func(q *db.Queries) error { return claimAndComplete(ctx, q, "after") }))
	require.Equal(t, 1, countRows(t, pool, "SELECT count(*) FROM idempotency_keys"))
}
