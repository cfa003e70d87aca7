package erasure_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/internal/audit"
	"mailsync/internal/db/dbtest"
	"mailsync/internal/email"
	"mailsync/internal/erasure"
	"mailsync/internal/ingest"
)

// TestStopFinishesOrCutsOffTheBatchInFlight holds back the runner's first
// batch of a job with a row lock, and stops the runner while it waits. With
// time enough, Stop waits for the batch to commit and gives the job back
// without starting another batch; when Stop's ctx ends first, the batch is
// cut off (rolled back), the job given back all the same, and Stop says so.
func TestStopFinishesOrCutsOffTheBatchInFlight(t *testing.T) {
	t.Parallel()
	for _, cut := range []bool{false, true} {
		name := map[bool]string{false: "finished", true: "cut off"}[cut]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			pool, _ := dbtest.New(t)
			ctx := context.Background()
			ingestN(t, ingest.NewService(pool, &ingest.Config{Render: func(email.Stored) ([]byte, error) { return []byte("{}"), nil }}),
				10, func(int) string { return "alice@example.com" })
			s := erasure.New(pool, &erasure.Config{Worker: "a", BatchSize: 3, PollInterval: time.Hour})
			addr := "alice@example.com"
			job, _, err := s.StartJob(ctx, erasure.Request{Criteria: erasure.Criteria{Address: &addr}, Key: "k",
				Fingerprint: "f", TTL: time.Hour}, audit.Actor{ClientID: "ops"})
			require.NoError(t, err)
			blocker, err := pool.Begin(ctx)
			require.NoError(t, err)
			defer func() { _ = blocker.Rollback(ctx) }()
			_, err = blocker.Exec(ctx, `SELECT id FROM incoming_emails WHERE id = (SELECT min(id) FROM incoming_emails) FOR UPDATE`)
			require.NoError(t, err)

			require.NoError(t, s.Start(ctx))
			dbtest.AwaitLockWait(t, pool) // the job's first batch is in flight
			stopCtx, cancel := context.WithCancel(ctx)
			defer cancel()
			stopped := make(chan error, 1)
			go func() { stopped <- s.Stop(stopCtx) }()
			<-erasure.Stopping(s)

			erased := 0
			if !cut {
				require.NoError(t, blocker.Rollback(ctx))
				require.NoError(t, <-stopped)
				erased = 3
			} else {
				cancel()
				err = <-stopped
				require.ErrorIs(t, err, context.Canceled)
				require.ErrorContains(t, err, "stop erasure runner: job batch in flight cut off")
				require.NoError(t, s.Stop(ctx), "the pass has returned")
				require.NoError(t, blocker.Rollback(ctx))
			}
			var n int
			require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM incoming_emails WHERE erased_at IS NOT NULL`).Scan(&n))
			require.Equal(t, erased, n)
			got, err := s.Job(ctx, job.ID)
			require.NoError(t, err)
			require.Equal(t, erasure.StatusRunning, got.Status)
			require.EqualValues(t, erased, got.Erased)
			var lockedBy *string
			require.NoError(t, pool.QueryRow(ctx, `SELECT locked_by FROM erasure_jobs WHERE id = $1`, job.ID).Scan(&lockedBy))
			require.Nil(t, lockedBy, "the job was given back")
		})
	}
}
