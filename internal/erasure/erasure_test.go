package erasure_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/internal/audit"
	"mailsync/internal/db/dbtest"
	"mailsync/internal/email"
	"mailsync/internal/erasure"
	"mailsync/internal/ingest"
)

func ingestN(t *testing.T, svc *ingest.Service, n int, from func(i int) string) {
	t.Helper()
	var items []ingest.Item
	for i := range n {
		c := email.Content{MessageID: fmt.Sprintf("<%d@erasure.test>", i), Mailbox: "support", From: from(i),
			To: []string{"support@example.org"}, ReceivedAt: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
		c.Normalize()
		items = append(items, ingest.Item{Key: fmt.Sprint("k", i), Fingerprint: fmt.Sprint(i), Content: c})
	}
	_, err := svc.Ingest(context.Background(), "test", items)
	require.NoError(t, err)
}

// A job whose instance stops (or dies) mid-way is finished by another.
func TestErasureJobIsTakenOverAfterStopOrCrash(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	ctx := context.Background()
	svc := ingest.NewService(pool, &ingest.Config{Render: func(email.Stored) ([]byte, error) { return []byte("{}"), nil }})
	ingestN(t, svc, 20, func(i int) string {
		if i%2 == 0 {
			return "alice@example.com"
		}
		return "bob@example.com"
	})
	count := func(sql string) int {
		var n int
		require.NoError(t, pool.QueryRow(ctx, sql).Scan(&n))
		return n
	}

	// Instance A stops after its first batch of 3 (a shutdown: it gives the job back).
	actx, stopA := context.WithCancel(ctx)
	a := erasure.New(pool, &erasure.Config{Worker: "a", BatchSize: 3, Wake: stopA})
	addr := "alice@example.com"
	job, replayed, err := a.StartJob(ctx, erasure.Request{Criteria: erasure.Criteria{Address: &addr}, Key: "job-1",
		Fingerprint: "f", TTL: time.Hour}, audit.Actor{ClientID: "ops"})
	require.NoError(t, err)
	require.False(t, replayed)
	ran, err := a.RunOnce(actx)
	require.True(t, ran)
	require.ErrorIs(t, err, context.Canceled)
	got, err := a.Job(ctx, job.ID)
	require.NoError(t, err)
	require.Equal(t, erasure.StatusRunning, got.Status)
	require.EqualValues(t, 10, got.Matched)
	require.EqualValues(t, 3, got.Erased)

	// Instance B takes it; it dies holding the lease after one more batch.
	_, err = pool.Exec(ctx, `UPDATE erasure_jobs SET locked_by = 'b', locked_until = now() + interval '1 hour' WHERE id = $1`, job.ID)
	require.NoError(t, err)
	c := erasure.New(pool, &erasure.Config{Worker: "c", BatchSize: 3})
	ran, err = c.RunOnce(ctx)
	require.NoError(t, err)
	require.False(t, ran, "a job under a live lease is not taken")
	_, err = pool.Exec(ctx, `UPDATE erasure_jobs SET locked_until = now() - interval '1 second' WHERE id = $1`, job.ID)
	require.NoError(t, err)
	ran, err = c.RunOnce(ctx)
	require.NoError(t, err)
	require.True(t, ran)

	got, err = c.Job(ctx, job.ID)
	require.NoError(t, err)
	require.Equal(t, erasure.StatusCompleted, got.Status)
	require.EqualValues(t, 10, got.Erased)
	require.Equal(t, 10, count(`SELECT count(*) FROM incoming_emails WHERE erased_at IS NOT NULL AND erased_by = 'ops'`))
	require.Equal(t, 10, count(`SELECT count(*) FROM incoming_emails WHERE erased_at IS NULL AND from_address = 'bob@example.com'`))
	require.Equal(t, 10, count(`SELECT count(*) FROM outbox_messages WHERE operation = 'delete'`))

	// The same key and request is the same job; another request is refused.
	again, replayed, err := c.StartJob(ctx, erasure.Request{Criteria: erasure.Criteria{Address: &addr}, Key: "job-1",
		Fingerprint: "f", TTL: time.Hour}, audit.Actor{ClientID: "ops"})
	require.NoError(t, err)
	require.True(t, replayed)
	require.Equal(t, job.ID, again.ID)
	_, _, err = c.StartJob(ctx, erasure.Request{Criteria: erasure.Criteria{Address: &addr}, Key: "job-1",
		Fingerprint: "other", TTL: time.Hour}, audit.Actor{ClientID: "ops"})
	require.ErrorContains(t, err, "already used")
}
