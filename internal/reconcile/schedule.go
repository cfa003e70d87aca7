package reconcile

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"mailsync/internal/apperr"
	"mailsync/internal/db"
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
func (r *Reconciler) acquire(ctx context.Context) (*lock, error) {
	conn, err := r.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("acquire a connection for the reconciliation lock: %w", err)
	}
	ok, err := db.New(conn).TryReconcileLock(ctx, LockKey)
	if err != nil {
		conn.Release()
		return nil, err
	}
	if !ok {
		conn.Release()
		return nil, r.busy(ctx)
	}
	return &lock{conn: conn}, nil
}

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

// busy builds the RunInProcess error. The holder inserts its report right
// after taking the lock, so a missing row is looked for again briefly.
func (r *Reconciler) busy(ctx context.Context) error {
	var id int64
	for attempt := 0; attempt < 20; attempt++ {
		running, err := r.q.RunningReport(ctx)
		if err != nil {
			return err
		}
		if running != nil {
			id = running.ID
			break
		}
		t := time.NewTimer(25 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("look for the running reconciliation: %w", ctx.Err())
		case <-t.C:
		}
	}
	e := apperr.New(apperr.RunInProcess, "a reconciliation is already running")
	if id != 0 {
		e = apperr.New(apperr.RunInProcess, "reconciliation %d is already running", id)
		e.ID = id
	}
	return e
}

// SweepInterval is how often Start looks for reports left running by a run
// that no longer holds the lock (an instance that crashed or was cut off).
const SweepInterval = time.Minute

// Start marks the reports of interrupted runs failed (at once and every
// SweepInterval), and runs a scheduled reconciliation every Config.Interval
// (the first one interval after Start; none when it is 0), until Stop or ctx
// ends. Every instance may call Start: a tick that finds another run holding
// the lock is skipped.
func (r *Reconciler) Start(ctx context.Context) {
	if !r.track() {
		return
	}
	go r.loop(ctx)
}

// Stop ends the schedule and aborts the runs in flight on this instance
// (scheduled ones and those of Run and StartRun): each is recorded as failed
// ("interrupted"), and its lock is released. It returns when all have
// exited. Runs fail to start after Stop.
func (r *Reconciler) Stop() {
	r.stopOnce.Do(func() {
		r.mu.Lock()
		r.stopped = true
		r.mu.Unlock()
		r.cancel()
		r.wg.Wait()
	})
}

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

func (r *Reconciler) loop(ctx context.Context) {
	defer r.wg.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(r.base, cancel)
	defer stop()
	sweep := func() {
		sctx, scancel := context.WithTimeout(ctx, finishTimeout)
		defer scancel()
		if _, err := r.SweepStale(sctx); err != nil && ctx.Err() == nil {
			slog.Warn("reconciliation: sweep failed", "err", err)
		}
	}
	sweep()
	sweeps := time.NewTicker(SweepInterval)
	defer sweeps.Stop()
	var runs <-chan time.Time
	if r.cfg.Interval > 0 {
		t := time.NewTicker(r.cfg.Interval)
		defer t.Stop()
		runs = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-sweeps.C:
			sweep()
		case <-runs:
			r.runOnce(ctx)
		}
	}
}

// runOnce is one scheduled pass; its run has its own timeout (Config.Timeout).
func (r *Reconciler) runOnce(ctx context.Context) {
	_, err := r.Run(ctx, TriggerScheduled, false)
	switch {
	case err == nil:
	case apperr.CodeOf(err) == apperr.RunInProcess:
		slog.Debug("scheduled reconciliation skipped: another run holds the lock", "err", err)
	case ctx.Err() != nil:
	default:
		slog.Warn("scheduled reconciliation failed", "err", err)
	}
}
