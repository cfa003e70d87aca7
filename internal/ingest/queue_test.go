package ingest

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"mailsync/internal/apperr"
	"mailsync/internal/db/dbtest"
	"mailsync/internal/email"
	"mailsync/internal/testwait"
)

// stalledService is a Service with one group transaction at a time, and a
// transaction of the test holding the key record of client "c" key
// "blocker": a group claiming that key waits until release is called.
func stalledService(t *testing.T, cfg Config) (svc *Service, pool *pgxpool.Pool, release func()) {
	t.Helper()
	pool, _ = dbtest.New(t)
	cfg.Render = func(e email.Stored) ([]byte, error) { return []byte(fmt.Sprintf(`{"id":%d}`, e.ID)), nil }
	cfg.GroupInFlight, cfg.GroupWindow = 1, -1
	svc = NewService(pool, &cfg)
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `INSERT INTO idempotency_keys (client_id, key, request_fingerprint, status, expires_at)
		VALUES ('c', 'blocker', 'x', 'in_progress', now() + interval '1 day')`)
	require.NoError(t, err)
	var once sync.Once
	release = func() { once.Do(func() { require.NoError(t, tx.Rollback(ctx)) }) }
	t.Cleanup(release)
	return svc, pool, release
}

// waitBlocked waits until a transaction of the test's database waits on a lock.
func waitBlocked(t *testing.T, pool *pgxpool.Pool) {
	testwait.Until(t, 10*time.Second, "a group to wait on the blocker's key", func() bool {
		return count(t, pool, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`) > 0
	})
}

// TestIngestOneDropsCallsWhoseRequestGaveUpBeforeTheirGroup: while the only
// group slot is stuck, 50 requests wait in the queue and give up (their
// deadline passes). None of them is written once the database moves again:
// nothing is stored, and a retry is a first request.
func TestIngestOneDropsCallsWhoseRequestGaveUpBeforeTheirGroup(t *testing.T) {
	t.Parallel()
	svc, pool, release := stalledService(t, Config{})
	ctx := context.Background()
	blocked := make(chan outcome, 1)
	go func() {
		r, err := svc.IngestOne(ctx, "c", NewItem("c", "blocker", testContent(0)))
		blocked <- outcome{r, err}
	}()
	waitBlocked(t, pool)

	const n = 50
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			_, errs[i] = svc.IngestOne(cctx, "c", NewItem("c", fmt.Sprint("late-", i), testContent(i+1)))
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.ErrorIs(t, err, context.DeadlineExceeded)
	}
	release()
	o := <-blocked
	require.NoError(t, o.err)
	require.Equal(t, http.StatusCreated, o.r.Status)
	// A request queued after the 50 is answered after their turn came.
	after, err := svc.IngestOne(ctx, "c", NewItem("c", "after", testContent(n+1)))
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, after.Status)
	require.Zero(t, count(t, pool, "SELECT count(*) FROM incoming_emails WHERE idempotency_key LIKE 'late-%'"),
		"requests that gave up before their group started are not written")
	require.Zero(t, count(t, pool, "SELECT count(*) FROM idempotency_keys WHERE key LIKE 'late-%'"))
	require.Equal(t, 2, count(t, pool, "SELECT count(*) FROM incoming_emails"))

	// A retry of one of them is a first request.
	again, err := svc.IngestOne(ctx, "c", NewItem("c", "late-7", testContent(8)))
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, again.Status)
	require.False(t, again.Replayed)
}

// TestIngestQueueIsBoundedInCountAndBytes: Admit refuses with 503
// (Unavailable) beyond QueueMax calls or QueueBytes bytes, and a call
// keeps its room while its group writes it even after its request gave up,
// so the bound holds the memory of requests PostgreSQL has not answered.
func TestIngestQueueIsBoundedInCountAndBytes(t *testing.T) {
	t.Parallel()
	svc, pool, release := stalledService(t, Config{QueueMax: 3, QueueBytes: 1000})
	ctx := context.Background()

	// The blocker's request (600 bytes) gives up while its group waits.
	big, err := svc.Admit(600)
	require.NoError(t, err)
	gaveUp := make(chan error, 1)
	go func() {
		cctx, cancel := context.WithCancel(WithTicket(ctx, big))
		go func() { waitBlocked(t, pool); cancel() }()
		_, err := svc.IngestOne(cctx, "c", NewItem("c", "blocker", testContent(0)))
		big.Release() // the handler answered
		gaveUp <- err
	}()
	require.ErrorIs(t, <-gaveUp, context.Canceled)

	_, err = svc.Admit(500)
	require.Equal(t, apperr.Unavailable, apperr.CodeOf(err), "600 of 1000 bytes are still held by the group being written")
	a, err := svc.Admit(100)
	require.NoError(t, err)
	b, err := svc.Admit(0)
	require.NoError(t, err)
	_, err = svc.Admit(0)
	require.Equal(t, apperr.Unavailable, apperr.CodeOf(err), "3 calls admitted: the queue is full")
	a.Release()
	c, err := svc.Admit(0)
	require.NoError(t, err, "a released ticket frees its room")

	release()
	testwait.Until(t, 10*time.Second, "the blocker's group to finish and free its room", func() bool {
		t, err := svc.Admit(600)
		if err != nil {
			return false
		}
		t.Release()
		return true
	})
	b.Release()
	c.Release()
	var status string
	require.NoError(t, pool.QueryRow(ctx, "SELECT status FROM idempotency_keys WHERE key = 'blocker'").Scan(&status))
	require.Equal(t, "completed", status, "a request that gave up while its group was being written may be stored; its retry replays it")
}
