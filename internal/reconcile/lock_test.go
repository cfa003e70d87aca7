package reconcile_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/internal/apperr"
	"mailsync/internal/audit"
	"mailsync/internal/reconcile"
	"mailsync/internal/testwait"
)

// waitReport polls report id until it is no longer running.
func waitReport(t *testing.T, e *env, r *reconcile.Reconciler, id int64) reconcile.Report {
	t.Helper()
	var rep reconcile.Report
	testwait.Until(t, time.Minute, "the run to finish", func() bool {
		var err error
		rep, err = r.Get(e.ctx, id)
		require.NoError(t, err)
		return rep.Status != reconcile.StatusRunning
	})
	return rep
}

// TestOneRunAtATime: while a run holds the lock, every other start, on this
// instance or another, gets RunInProcess with the running report's id.
func TestOneRunAtATime(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ingestN(50)
	e.drain()
	entered, release := make(chan int64, 1), make(chan struct{})
	cfg := reconcile.Config{}
	reconcile.SetBeforeCompare(&cfg, func(id int64) {
		entered <- id
		select {
		case <-release:
		case <-time.After(time.Minute):
		}
	})
	first := e.reconciler(cfg)
	other := e.reconciler(reconcile.Config{}) // another instance on the same database

	started, err := first.StartRun(e.ctx, false, audit.Actor{ClientID: "test"})
	require.NoError(t, err)
	require.Equal(t, reconcile.StatusRunning, started.Status)
	require.Equal(t, reconcile.TriggerManual, started.Trigger)
	select {
	case id := <-entered:
		require.Equal(t, started.ID, id)
	case <-time.After(time.Minute):
		t.Fatal("the run did not start")
	}

	for _, try := range []func() error{
		func() error { _, err := first.StartRun(e.ctx, true, audit.Actor{ClientID: "test"}); return err },
		func() error { _, err := other.StartRun(e.ctx, false, audit.Actor{ClientID: "test"}); return err },
		func() error { _, err := other.Run(e.ctx, reconcile.TriggerScheduled, false); return err },
	} {
		err := try()
		require.Equal(t, apperr.RunInProcess, apperr.CodeOf(err), "%v", err)
		require.Equal(t, started.ID, apperr.As(err).ID)
	}
	running, err := other.Get(e.ctx, started.ID)
	require.NoError(t, err)
	require.Equal(t, reconcile.StatusRunning, running.Status)
	require.Equal(t, reconcile.Counts{}, running.Details.Counts)
	require.Equal(t, []int64{}, running.Details.Samples.OrphanInMongo)

	close(release)
	done := waitReport(t, e, other, started.ID)
	require.Equal(t, reconcile.StatusCompleted, done.Status)
	require.EqualValues(t, 100, done.RecordsChecked)
	// The lock is free again, as soon as the first run's lock connection is
	// released (just after its report is marked completed).
	var rep reconcile.Report
	testwait.Until(t, time.Minute, "the lock to be free", func() bool {
		rep, err = other.Run(e.ctx, reconcile.TriggerManual, true)
		if apperr.CodeOf(err) == apperr.RunInProcess {
			return false
		}
		require.NoError(t, err)
		return true
	})
	require.Equal(t, reconcile.StatusCompleted, rep.Status)
}

// TestInterruptedRunsAreFailed: a report left running by a crashed instance
// is marked failed by the next run that takes the lock, and Stop aborts a
// run in flight, recording it as failed.
func TestInterruptedRunsAreFailed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var crashed int64
	require.NoError(t, e.pool.QueryRow(e.ctx,
		`INSERT INTO reconciliation_reports (trigger, status) VALUES ('scheduled', 'running') RETURNING id`).Scan(&crashed))

	entered := make(chan int64, 1)
	cfg := reconcile.Config{}
	reconcile.SetBeforeCompare(&cfg, func(id int64) { entered <- id })
	r := reconcile.New(e.pool, e.mongo, &cfg)
	started, err := r.StartRun(e.ctx, false, audit.Actor{ClientID: "test"})
	require.NoError(t, err)
	<-entered
	stale, err := r.Get(e.ctx, crashed)
	require.NoError(t, err)
	require.Equal(t, reconcile.StatusFailed, stale.Status)
	require.Contains(t, *stale.ErrorMessage, "interrupted")
	require.NotNil(t, stale.CompletedAt)

	require.NoError(t, r.Stop(e.ctx))
	got, err := r.Get(e.ctx, started.ID)
	require.NoError(t, err)
	require.NotEqual(t, reconcile.StatusRunning, got.Status)
	_, err = r.StartRun(e.ctx, false, audit.Actor{ClientID: "test"})
	require.Error(t, err, "a stopped reconciler starts nothing")

	_, err = r.Get(e.ctx, 999999)
	require.Equal(t, apperr.NotFound, apperr.CodeOf(err))
}

// TestScheduleRuns: with an interval, Start runs scheduled reconciliations.
func TestScheduleRuns(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ingestN(10)
	e.drain()
	r := e.reconciler(reconcile.Config{Interval: 50 * time.Millisecond})
	require.NoError(t, r.Start(e.ctx))
	testwait.Until(t, time.Minute, "two scheduled runs", func() bool {
		return e.count(`SELECT count(*) FROM reconciliation_reports WHERE trigger = 'scheduled' AND status = 'completed'`) >= 2
	})
	require.NoError(t, r.Stop(e.ctx))
	require.Zero(t, e.count(`SELECT count(*) FROM reconciliation_reports WHERE status = 'running'`))
}

// TestStartRightAfterARunCompletes: a run's report reads completed just
// before its lock connection is released. A start in that window waits for
// the lock instead of answering 409 "already running" with no running run
// (an operator who saw the report completed and started another got it).
func TestStartRightAfterARunCompletes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.reconciler(reconcile.Config{})
	// The window, held open: the lock taken, no report running.
	conn, err := e.pool.Acquire(e.ctx)
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(e.ctx, `SELECT pg_advisory_lock($1)`, reconcile.LockKey)
	require.NoError(t, err)
	unlocked := make(chan error, 1)
	go func() {
		// The finishing run releases its lock once the start has found it held.
		tried := false
		for !tried {
			if err := e.pool.QueryRow(e.ctx, `SELECT EXISTS (SELECT FROM pg_stat_activity
				WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE '%pg_try_advisory_lock%' AND query NOT LIKE '%pg_stat_activity%')`).Scan(&tried); err != nil {
				unlocked <- err
				return
			}
		}
		_, err := conn.Exec(e.ctx, `SELECT pg_advisory_unlock($1)`, reconcile.LockKey)
		unlocked <- err
	}()
	started, err := r.StartRun(e.ctx, true, audit.Actor{ClientID: "test"})
	require.NoError(t, err, "a start while no run is running")
	require.NoError(t, <-unlocked)
	require.Equal(t, reconcile.StatusCompleted, waitReport(t, e, r, started.ID).Status)
}
