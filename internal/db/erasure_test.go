package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/internal/apperr"
	"mailsync/internal/db"
	"mailsync/internal/db/dbtest"
	"mailsync/internal/testwait"
)

// A job's scope count and its batches select the same emails: each
// criterion, the address in every place it may appear and nowhere else,
// never an erased email, and nothing newer than the scope.
func TestErasureJobSelectsExactlyItsEmails(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	ctx := context.Background()
	q := db.New(pool)
	email := func(from, to, cc, envFrom, envTo, mailbox string, received time.Time) int64 {
		t.Helper()
		var id int64
		require.NoError(t, pool.QueryRow(ctx, `
			INSERT INTO incoming_emails (client_id, message_id, from_address, to_addresses, cc_addresses,
				envelope_from, envelope_to, mailbox, received_at)
			VALUES ('c', '<m@x>', $1, string_to_array($2, ','), string_to_array($3, ','), $4, string_to_array($5, ','), $6, $7)
			RETURNING id`, from, to, cc, envFrom, envTo, mailbox, received).Scan(&id))
		return id
	}
	jan, mar := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	fromName := email("Alice <ALICE@Example.com>", "b@x", "", "", "", "support", jan)
	to := email("b@x", "b@x,alice@example.com", "", "", "", "sales", mar)
	cc := email("b@x", "b@x", "\"A.\" <Alice@example.com>", "", "", "support", mar)
	envFrom := email("b@x", "b@x", "", "alice@example.com", "", "support", jan)
	envTo := email("b@x", "b@x", "", "", "<alice@example.com>", "sales", jan)
	longer := email("malice@example.com", "alice@example.com.evil", "", "", "", "support", jan)
	other := email("b@x", "c@x", "", "", "", "support", jan)
	erased := email("alice@example.com", "b@x", "", "", "", "support", jan)
	_, err := pool.Exec(ctx, `UPDATE incoming_emails SET erased_at = now() WHERE id = $1`, erased)
	require.NoError(t, err)

	addr, support := "alice@example.com", "support"
	// The scope waits for the transactions open at the request (other
	// tests' too, on a shared server).
	scope := func(id int64) {
		testwait.Until(t, 30*time.Second, "the job is scoped", func() bool {
			ok, err := q.ScopeErasureJob(ctx, id, "w")
			require.NoError(t, err)
			return ok
		})
	}
	for _, c := range []struct {
		name     string
		criteria db.ErasureCriteria
		want     []int64
	}{
		{"address", db.ErasureCriteria{Address: &addr}, []int64{fromName, to, cc, envFrom, envTo}},
		{"address and mailbox", db.ErasureCriteria{Address: &addr, Mailbox: &support}, []int64{fromName, cc, envFrom}},
		{"received before", db.ErasureCriteria{ReceivedBefore: &mar}, []int64{fromName, envFrom, envTo, longer, other}},
	} {
		job, err := q.InsertErasureJob(ctx, db.NewErasureJob{RequestedBy: "ops", Criteria: c.criteria, Reason: c.name})
		require.NoError(t, err, c.name)
		require.Equal(t, "pending", job.Status)
		claimed, ok, err := q.ClaimErasureJob(ctx, "w", time.Minute)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, job.ID, claimed.ID, c.name)
		require.Nil(t, claimed.HighWaterID, "not scoped yet")
		scope(job.ID)
		got, err := q.GetErasureJob(ctx, job.ID)
		require.NoError(t, err)
		require.EqualValues(t, len(c.want), got.Matched, c.name)
		ids, err := q.NextErasureBatch(ctx, job.ID, 100)
		require.NoError(t, err)
		require.Equal(t, c.want, ids, c.name)
		require.NoError(t, q.FinishErasureJob(ctx, job.ID, "w", "completed", nil))
	}

	// Progress, the high-water mark and the lease.
	job, err := q.InsertErasureJob(ctx, db.NewErasureJob{RequestedBy: "ops", Criteria: db.ErasureCriteria{Address: &addr}})
	require.NoError(t, err)
	_, ok, err := q.ClaimErasureJob(ctx, "w", time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	_, ok, err = q.ClaimErasureJob(ctx, "v", time.Minute)
	require.NoError(t, err)
	require.False(t, ok, "the only open job is leased")
	scope(job.ID)
	email("alice@example.com", "b@x", "", "", "", "support", jan) // after the scope: not in it
	ok, err = q.AdvanceErasureJob(ctx, db.ErasureProgress{JobID: job.ID, Worker: "v", LastID: to, Erased: 2, Lease: time.Minute})
	require.NoError(t, err)
	require.False(t, ok, "not v's lease")
	ok, err = q.AdvanceErasureJob(ctx, db.ErasureProgress{JobID: job.ID, Worker: "w", LastID: to, Erased: 2, Lease: time.Minute})
	require.NoError(t, err)
	require.True(t, ok)
	ids, err := q.NextErasureBatch(ctx, job.ID, 2)
	require.NoError(t, err)
	require.Equal(t, []int64{cc, envFrom}, ids)
	ids, err = q.NextErasureBatch(ctx, job.ID, 100)
	require.NoError(t, err)
	require.Equal(t, []int64{cc, envFrom, envTo}, ids)

	require.NoError(t, q.ReleaseErasureJob(ctx, job.ID, "w", 0))
	again, ok, err := q.ClaimErasureJob(ctx, "v", time.Minute)
	require.NoError(t, err)
	require.True(t, ok, "a released job is taken at once")
	require.EqualValues(t, 2, again.Erased)
	require.Equal(t, to, again.LastID)

	jobs, next, err := q.ListErasureJobs(ctx, nil, 3)
	require.NoError(t, err)
	require.Len(t, jobs, 3)
	require.Equal(t, job.ID, jobs[0].ID, "newest first")
	require.NotNil(t, next)
	jobs, next, err = q.ListErasureJobs(ctx, next, 3)
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	require.Nil(t, next)

	_, err = q.GetErasureJob(ctx, 999999)
	require.Equal(t, apperr.NotFound, apperr.CodeOf(err))
	require.ErrorContains(t, err, "erasure 999999 not found")
}
