package maintenance_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/internal/db/dbtest"
	"mailsync/internal/maintenance"
)

// TestStopFinishesOrCutsOffTheBatchInFlight holds back the cleaner's first
// delete batch with a row lock, and stops the cleaner while it waits. With
// time enough, Stop waits for the batch to commit and starts no other; when
// Stop's ctx ends first, the batch is cut off (rolled back) and Stop says so.
func TestStopFinishesOrCutsOffTheBatchInFlight(t *testing.T) {
	t.Parallel()
	for _, cut := range []bool{false, true} {
		name := map[bool]string{false: "finished", true: "cut off"}[cut]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			pool, _ := dbtest.New(t)
			ctx := context.Background()
			_, err := pool.Exec(ctx, `INSERT INTO outbox_messages (aggregate_type, aggregate_id, operation, created_at, processed_at)
				SELECT 'email', i, 'upsert', now() - interval '10 days' + i * interval '1 second', now() - interval '10 days'
				FROM generate_series(1, 3) i`)
			require.NoError(t, err)
			left := func() int {
				var n int
				require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM outbox_messages`).Scan(&n))
				return n
			}
			blocker, err := pool.Begin(ctx)
			require.NoError(t, err)
			defer func() { _ = blocker.Rollback(ctx) }()
			_, err = blocker.Exec(ctx, `SELECT id FROM outbox_messages WHERE aggregate_id = 1 FOR UPDATE`)
			require.NoError(t, err)

			c := maintenance.New(pool, &maintenance.Config{BatchSize: 2, Interval: time.Hour})
			require.NoError(t, c.Start(ctx))
			dbtest.AwaitLockWait(t, pool) // the first batch (rows 1 and 2) is in flight
			stopCtx, cancel := context.WithCancel(ctx)
			defer cancel()
			stopped := make(chan error, 1)
			go func() { stopped <- c.Stop(stopCtx) }()
			<-maintenance.Stopping(c)

			if !cut {
				require.NoError(t, blocker.Rollback(ctx))
				require.NoError(t, <-stopped)
				require.Equal(t, 1, left(), "the batch in flight committed, and no other started")
				return
			}
			cancel()
			err = <-stopped
			require.ErrorIs(t, err, context.Canceled)
			require.ErrorContains(t, err, "stop retention cleaner: delete batch in flight cut off")
			require.NoError(t, c.Stop(ctx), "the pass has returned")
			require.NoError(t, blocker.Rollback(ctx))
			require.Equal(t, 3, left(), "the batch in flight was rolled back")
		})
	}
}
