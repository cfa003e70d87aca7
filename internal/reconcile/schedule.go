package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"mailsync/internal/apperr"
	"mailsync/internal/db"
	"mailsync/internal/lifecycle"
)

// LockKey is the PostgreSQL advisory lock key held by the one running
// reconciliation ("mailsync reconcile").
const LockKey int64 = 0x6d61696c_7263636c

// lock is the held advisory lock and the dedicated connection holding it.
type lock struct {
	conn *pgxpool.Conn
}

// acquire takes the lock on a connection of its own, or returns an apperr
// RunInProcess naming the running report when another run holds it.
//
// A lock that is held while no report is running belongs to a run that has
// just started (its report is inserted right after the lock is taken) or
// has just finished (its report is completed before the lock is released):
// acquire tries again for a short while, so a run started right after
// another completed is not refused.
func (r *Reconciler) acquire(ctx context.Context) (*lock, error) {
	conn, err := r.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("acquire a connection for the reconciliation lock: %w", err)
	}
	for attempt := 0; ; attempt++ {
		ok, err := db.New(conn).TryReconcileLock(ctx, LockKey)
		if err != nil {
			conn.Release()
			return nil, err
		}
		if ok {
			return &lock{conn: conn}, nil
		}
		running, err := r.q.RunningReport(ctx)
		if err != nil {
			conn.Release()
			return nil, err
		}
		if running != nil || attempt == busyAttempts {
			conn.Release()
			return nil, busy(running)
		}
		t := time.NewTimer(25 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			conn.Release()
			return nil, fmt.Errorf("look for the running reconciliation: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// busyAttempts bounds how often acquire tries again while the lock is held
// and no report is running (25 ms apart).
const busyAttempts = 20

// release unlocks and returns the connection. If unlocking fails the
// connection is closed instead, which ends the session and its lock.
func (l *lock) release() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if released, err := db.New(l.conn).ReconcileUnlock(ctx, LockKey); err != nil || !released {
		slog.Warn("reconciliation: unlock failed; closing its connection", "err", err)
		_ = l.conn.Conn().Close(ctx)
	}
	l.conn.Release()
}

// busy builds the RunInProcess error, naming the running report if known.
func busy(running *db.Report) error {
	if running == nil {
		return apperr.New(apperr.RunInProcess, "a reconciliation is already running")
	}
	e := apperr.New(apperr.RunInProcess, "reconciliation %d is already running", running.ID)
	e.ID = running.ID
	return e
}

// SweepInterval is how often Start looks for reports left running by a run
// that no longer holds the lock (an instance that crashed or was cut off).
const SweepInterval = time.Minute

// Start marks the reports of interrupted runs failed (at once and every
// SweepInterval), and runs a scheduled reconciliation every Config.Interval
// (the first one interval after Start; none when it is 0), until Stop or ctx
// ends. Every instance may call Start: a tick that finds another run holding
// the lock is skipped. It returns an error when the reconciler was started
// or stopped before, or lacks its stores.
func (r *Reconciler) Start(ctx context.Context) error {
	if r.pool == nil || r.mongo == nil {
		return errors.New("start reconciler: a PostgreSQL pool and a MongoDB store are required")
	}
	if err := r.life.Start(ctx); err != nil {
		return err
	}
	sweeps := &lifecycle.Loop{Name: "reconciliation: sweep", Interval: SweepInterval, Timeout: finishTimeout,
		Immediate: true, Pass: func(_, ctx context.Context) error {
			_, err := r.SweepStale(ctx)
			return err
		}}
	r.life.Go(sweeps.Run)
	if r.cfg.Interval > 0 {
		runs := &lifecycle.Loop{Name: "scheduled reconciliation", Interval: r.cfg.Interval, Pass: r.runOnce}
		r.life.Go(runs.Run)
	}
	return nil
}

// Stop ends the schedule and refuses new runs (Run and StartRun then fail),
// and waits, while ctx lasts, for the runs in flight on this instance
// (scheduled ones and those of Run and StartRun) to finish. When ctx ends
// first, those runs are cut off: each is recorded as failed ("interrupted")
// and its lock released, and Stop returns at once an error wrapping ctx's.
// Stop is idempotent. Before Start it still waits for the runs of Run and
// StartRun, and the reconciler cannot be started after it.
func (r *Reconciler) Stop(ctx context.Context) error { return r.life.Stop(ctx) }

// SweepStale marks failed every report still running whose run holds no
// lock: its instance died or lost its session before finishing it. It
// returns how many it marked.
func (r *Reconciler) SweepStale(ctx context.Context) (int64, error) {
	n, err := r.q.FailOrphanedReports(ctx, LockKey)
	if err != nil {
		return 0, err
	}
	if n > 0 {
		slog.Warn("reconciliation: marked interrupted runs failed", "reports", n)
	}
	return n, nil
}

// runOnce is one scheduled pass; its run has its own timeout (Config.Timeout).
func (r *Reconciler) runOnce(_, ctx context.Context) error {
	_, err := r.Run(ctx, TriggerScheduled, false)
	switch {
	case apperr.CodeOf(err) == apperr.RunInProcess:
		slog.Debug("scheduled reconciliation skipped: another run holds the lock", "err", err)
		return nil
	case errors.Is(err, errStopped): // Stop began as the tick came
		return nil
	}
	return err
}
