package reconcile_test

import (
	"bytes"
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"mailsync/internal/db/dbtest"
	"mailsync/internal/reconcile"
	"mailsync/internal/testwait"
)

// statuses returns the status of every report, oldest first.
func (e *env) statuses() []string {
	e.t.Helper()
	return dbtest.Column[string](e.t, e.pool, `SELECT status FROM reconciliation_reports ORDER BY id`)
}

// TestCancelAfterReportCommitFinishesIt: the caller's context ends after
// the report's insert committed but before its answer was read (a SIGTERM,
// Stop, a client gone: what made TestScheduleRuns flaky). The report must
// still be finished, as failed, not left running forever.
func TestCancelAfterReportCommitFinishesIt(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	// A pool whose connections, once they sent the report's insert, hold its
	// answer back until the row is committed and ctx has been cancelled.
	cfg, err := pgxpool.ParseConfig(e.url)
	require.NoError(t, err)
	dial := cfg.ConnConfig.DialFunc
	cfg.ConnConfig.DialFunc = func(dctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(dctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &holdingConn{Conn: c, committed: func() bool { return len(e.statuses()) > 0 }, cancel: cancel,
			deadline: make(chan struct{}, 1)}, nil
	}
	pool, err := pgxpool.NewWithConfig(e.ctx, cfg)
	require.NoError(t, err)
	defer pool.Close()
	r := reconcile.New(pool, e.mongo, &reconcile.Config{})
	defer func() { require.NoError(t, r.Stop(context.Background())) }()

	_, err = r.Run(ctx, reconcile.TriggerScheduled, false)
	require.Error(t, err)
	require.Len(t, e.statuses(), 1)
	testwait.Until(t, time.Minute, "the report to be finished", func() bool { return e.statuses()[0] != reconcile.StatusRunning })
	require.Equal(t, []string{reconcile.StatusFailed}, e.statuses())
}

// holdingConn is a PostgreSQL connection that, after sending the commit of
// a reconciliation report's insert, waits before reading its answer until
// the row is committed, then cancels the caller's context and gives pgx a moment to
// react (pgx sets a past deadline on the connection when a query's context
// ends).
type holdingConn struct {
	net.Conn
	committed func() bool
	cancel    context.CancelFunc
	deadline  chan struct{}
	prepared  atomic.Bool
	armed     atomic.Bool
}

func (c *holdingConn) Write(b []byte) (int, error) {
	// The report is inserted in a transaction with its audit event: the
	// answer to hold back is the one to the COMMIT that follows the insert.
	if c.prepared.Load() && bytes.Contains(bytes.ToLower(b), []byte("commit")) {
		c.prepared.Store(false)
		c.armed.Store(true)
	} else if bytes.Contains(b, []byte("INSERT INTO reconciliation_reports")) {
		c.prepared.Store(true)
	}
	return c.Conn.Write(b)
}

func (c *holdingConn) Read(b []byte) (int, error) {
	if c.armed.CompareAndSwap(true, false) {
		testwait.Poll(time.Minute, c.committed) // polling another connection; nothing to wait on
		c.cancel()
		select { // pgx reacts to the cancellation (only if the query's context ends)
		case <-c.deadline:
		case <-time.After(2 * time.Second):
		}
	}
	return c.Conn.Read(b)
}

func (c *holdingConn) SetDeadline(t time.Time) error {
	if !t.IsZero() && time.Until(t) <= 0 {
		select {
		case c.deadline <- struct{}{}:
		default:
		}
	}
	return c.Conn.SetDeadline(t)
}

// TestStaleReportsAreFailedAtStart: a report left running by an instance
// that crashed is marked failed when an instance starts, without waiting for
// the next run (there may be none: RECONCILE_INTERVAL=0); a report whose run
// still holds the lock is left alone.
func TestStaleReportsAreFailedAtStart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var crashed int64
	require.NoError(t, e.pool.QueryRow(e.ctx,
		`INSERT INTO reconciliation_reports (trigger, status) VALUES ('scheduled', 'running') RETURNING id`).Scan(&crashed))

	// While another session holds the lock, the running report is its run's.
	holder, err := e.pool.Acquire(e.ctx)
	require.NoError(t, err)
	var ok bool
	require.NoError(t, holder.QueryRow(e.ctx, `SELECT pg_try_advisory_lock($1)`, reconcile.LockKey).Scan(&ok))
	require.True(t, ok)
	r := e.reconciler(reconcile.Config{})
	n, err := r.SweepStale(e.ctx)
	require.NoError(t, err)
	require.Zero(t, n)
	require.Equal(t, []string{reconcile.StatusRunning}, e.statuses())
	_, err = holder.Exec(e.ctx, `SELECT pg_advisory_unlock($1)`, reconcile.LockKey)
	require.NoError(t, err)
	holder.Release()

	// No lock held: starting an instance (no schedule) fails the report.
	require.NoError(t, r.Start(e.ctx))
	testwait.Until(t, time.Minute, "the stale report to be failed", func() bool {
		return e.statuses()[0] == reconcile.StatusFailed
	})
	rep, err := r.Get(e.ctx, crashed)
	require.NoError(t, err)
	require.Contains(t, *rep.ErrorMessage, "interrupted")
	require.NotNil(t, rep.CompletedAt)
	require.WithinDuration(t, time.Now(), *rep.CompletedAt, time.Hour)
}
