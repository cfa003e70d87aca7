package reconcile_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/internal/db/dbtest"
	"mailsync/internal/reconcile"
)

// TestStopFinishesOrCutsOffTheScheduledRunInFlight holds back a scheduled
// run's first read of incoming_emails with a table lock, and stops the
// reconciler while it waits. With time enough, Stop waits for the run to
// complete and starts no other; when Stop's ctx ends first, the run is cut
// off, recorded as interrupted, and Stop says so.
func TestStopFinishesOrCutsOffTheScheduledRunInFlight(t *testing.T) {
	t.Parallel()
	for _, cut := range []bool{false, true} {
		name := map[bool]string{false: "finished", true: "cut off"}[cut]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.ingestN(10)
			e.drain()
			blocker, err := e.pool.Begin(e.ctx)
			require.NoError(t, err)
			defer func() { _ = blocker.Rollback(e.ctx) }()
			_, err = blocker.Exec(e.ctx, `LOCK TABLE incoming_emails IN ACCESS EXCLUSIVE MODE`)
			require.NoError(t, err)

			r := e.reconciler(reconcile.Config{Interval: 10 * time.Millisecond})
			require.NoError(t, r.Start(e.ctx))
			dbtest.AwaitLockWait(t, e.pool) // the first scheduled run is in flight
			stopCtx, cancel := context.WithCancel(e.ctx)
			defer cancel()
			stopped := make(chan error, 1)
			go func() { stopped <- r.Stop(stopCtx) }()
			<-reconcile.Stopping(r)

			if !cut {
				require.NoError(t, blocker.Rollback(e.ctx))
				require.NoError(t, <-stopped)
				require.Equal(t, []string{reconcile.StatusCompleted}, e.statuses(), "the run in flight finished, and no other started")
				return
			}
			cancel()
			err = <-stopped
			require.ErrorIs(t, err, context.Canceled)
			require.ErrorContains(t, err, "stop reconciler: runs in flight cut off")
			require.NoError(t, r.Stop(e.ctx), "the run has returned")
			require.NoError(t, blocker.Rollback(e.ctx))
			require.Equal(t, []string{reconcile.StatusFailed}, e.statuses())
			var msg string
			require.NoError(t, e.pool.QueryRow(e.ctx, `SELECT error_message FROM reconciliation_reports`).Scan(&msg))
			require.Contains(t, msg, "interrupted: the reconciler was stopped")
		})
	}
}
