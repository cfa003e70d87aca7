package erasure_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"mailsync/internal/audit"
	"mailsync/internal/db/dbtest"
	"mailsync/internal/email"
	"mailsync/internal/erasure"
	"mailsync/internal/ingest"
	"mailsync/internal/testwait"
)

func newIngest(pool *pgxpool.Pool) *ingest.Service {
	return ingest.NewService(pool, &ingest.Config{Render: func(email.Stored) ([]byte, error) { return []byte("{}"), nil }})
}

func startJob(t *testing.T, s *erasure.Service, key string, c erasure.Criteria, reason string) erasure.Job {
	t.Helper()
	job, _, err := s.StartJob(context.Background(), erasure.Request{Criteria: c, Reason: reason, Key: key, Fingerprint: key,
		TTL: time.Hour}, audit.Actor{ClientID: "ops"})
	require.NoError(t, err)
	return job
}

// runJob drives the runner until job id has ended and returns it.
func runJob(t *testing.T, s *erasure.Service, id int64) erasure.Job {
	t.Helper()
	var job erasure.Job
	testwait.Until(t, 60*time.Second, "the job ends", func() bool {
		_, _ = s.RunOnce(context.Background())
		var err error
		job, err = s.Job(context.Background(), id)
		require.NoError(t, err)
		return job.Status == erasure.StatusCompleted || job.Status == erasure.StatusFailed
	})
	return job
}

// An email whose transaction was open when the job was requested, with an
// id lower than emails committed before the job started, is erased: the
// job waits for that transaction before it fixes its scope, and says so.
func TestErasureJobWaitsForTransactionsOpenAtRequest(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	ctx := context.Background()
	svc := newIngest(pool)
	ingestN(t, svc, 1, func(int) string { return "alice@example.com" })

	// A group transaction holds the next id, uncommitted.
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	var lowID int64
	require.NoError(t, tx.QueryRow(ctx, `INSERT INTO incoming_emails (client_id, message_id, from_address, to_addresses, received_at)
		VALUES ('test', '<late@x>', 'alice@example.com', '{support@example.org}', now()) RETURNING id`).Scan(&lowID))
	// A later email commits first, with a higher id.
	c := email.Content{MessageID: "<later@x>", From: "alice@example.com", To: []string{"support@example.org"},
		ReceivedAt: time.Now().UTC().Truncate(time.Second)}
	c.Normalize()
	_, err = svc.Ingest(ctx, "test", []ingest.Item{{Key: "later", Fingerprint: "later", Content: c}})
	require.NoError(t, err)

	s := erasure.New(pool, &erasure.Config{Worker: "w", BatchSize: 2, PollInterval: 20 * time.Millisecond})
	addr := "alice@example.com"
	job := startJob(t, s, "scope", erasure.Criteria{Address: &addr}, "")
	// The job runs while the transaction is still open, then it commits.
	for range 3 {
		_, err := s.RunOnce(ctx)
		require.NoError(t, err)
	}
	require.NoError(t, tx.Commit(ctx))

	done := runJob(t, s, job.ID)
	require.Equal(t, erasure.StatusCompleted, done.Status)
	var erasedAt *time.Time
	require.NoError(t, pool.QueryRow(ctx, `SELECT erased_at FROM incoming_emails WHERE id = $1`, lowID).Scan(&erasedAt))
	require.NotNil(t, erasedAt, "the email of the transaction open at the request is erased")
	require.EqualValues(t, 3, done.Erased)
	require.NotNil(t, done.Scope)
	require.GreaterOrEqual(t, done.Scope.Awaited, 1)
	require.GreaterOrEqual(t, done.Scope.NewestID, lowID+1)
	require.Contains(t, done.Scope.Statement(), "acknowledged before the request")
}

// A job whose batch always overruns its time records each attempt and its
// error, backs off, and fails after the bounded number of attempts; its
// address is cleared then.
func TestErasureJobFailsAfterBoundedAttempts(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	ctx := context.Background()
	ingestN(t, newIngest(pool), 3, func(int) string { return "alice@example.com" })
	s := erasure.New(pool, &erasure.Config{Worker: "w", Lease: 300 * time.Millisecond, MaxAttempts: 3,
		RetryBase: 10 * time.Millisecond, PollInterval: 10 * time.Millisecond})
	addr := "alice@example.com"
	job := startJob(t, s, "fails", erasure.Criteria{Address: &addr}, "")
	// Another transaction, begun after the request, holds the emails' rows:
	// every batch times out.
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = tx.Exec(ctx, `SELECT id FROM incoming_emails FOR UPDATE`)
	require.NoError(t, err)
	runs := 0
	testwait.Until(t, 60*time.Second, "the job ends", func() bool {
		if ran, _ := s.RunOnce(ctx); ran {
			runs++
		}
		j, err := s.Job(ctx, job.ID)
		require.NoError(t, err)
		require.LessOrEqual(t, runs, 20, "attempts are bounded")
		return j.Status != erasure.StatusRunning && j.Status != erasure.StatusPending
	})
	got, err := s.Job(ctx, job.ID)
	require.NoError(t, err)
	require.Equal(t, erasure.StatusFailed, got.Status)
	require.NotNil(t, got.ErrorMessage)
	require.Contains(t, *got.ErrorMessage, "deadline")
	require.EqualValues(t, 3, got.Attempts)
	require.NotNil(t, got.CompletedAt)
	require.Nil(t, got.Criteria.Address, "no address kept once the job ended")
	require.NotNil(t, got.Criteria.AddressHMAC)
	ran, err := s.RunOnce(ctx)
	require.NoError(t, err)
	require.False(t, ran, "a failed job is not claimed again")
}

// After a job completes, no PostgreSQL table holds its address or its
// free-text reason; the audit event keeps the keyed hash of the address.
func TestErasureLeavesNoAddressInPostgreSQL(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	ctx := context.Background()
	ingestN(t, newIngest(pool), 4, func(i int) string {
		return []string{"Alice <Alice@Example.com>", "alice@example.com (Alice)", "bob@example.net", "ALICE@EXAMPLE.COM"}[i]
	})
	key := []byte(strings.Repeat("k", 32))
	s := erasure.New(pool, &erasure.Config{Worker: "w", AddressKey: key})
	addr := "Alice@Example.com"
	reason := "request 118 from Alice Liddell"
	job := startJob(t, s, "clear", erasure.Criteria{Address: &addr}, reason)
	done := runJob(t, s, job.ID)
	require.Equal(t, erasure.StatusCompleted, done.Status)
	require.EqualValues(t, 3, done.Erased)

	for _, needle := range []string{"alice@example.com", "Alice Liddell"} {
		require.Empty(t, tablesHolding(t, pool, needle), "no table holds %q", needle)
	}
	var hash string
	require.NoError(t, pool.QueryRow(ctx, `SELECT details->>'address_hmac' FROM audit_events WHERE action = 'erasure.start'`).Scan(&hash))
	require.Equal(t, erasure.AddressHMAC(key, "alice@example.com"), hash)
	require.Equal(t, hash, *done.Criteria.AddressHMAC)
	require.Nil(t, done.Criteria.Address)
	require.Empty(t, done.Reason)
}

// tablesHolding names the tables of the public schema a row of which holds
// needle (case-insensitively) in any column.
func tablesHolding(t *testing.T, pool *pgxpool.Pool, needle string) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	for _, table := range dbtest.Column[string](t, pool, `SELECT tablename FROM pg_tables WHERE schemaname = 'public'`) {
		var n int
		q := fmt.Sprintf(`SELECT count(*) FROM %q AS x WHERE x::text ILIKE '%%' || $1 || '%%'`, table)
		require.NoError(t, pool.QueryRow(ctx, q, needle).Scan(&n))
		if n > 0 {
			out = append(out, table)
		}
	}
	return out
}
