package maintenance_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/internal/audit"
	"mailsync/internal/db"
	"mailsync/internal/db/dbtest"
	"mailsync/internal/maintenance"
)

// TestAuditRetentionPrunesAPrefixAndVerificationContinues removes the
// events older than AUDIT_RETENTION as a prefix of the chain: an old event
// written after a newer one stays (the prefix stops at the first event that
// is not old), verification starts after the prefix and holds, events
// appended later chain on, and what is left still cannot be deleted.
func TestAuditRetentionPrunesAPrefixAndVerificationContinues(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	ctx := context.Background()
	_, err := pool.Exec(ctx, `
		INSERT INTO audit_events (client_id, action, target, at) VALUES
		  ('ops', 'email.patch', 'email:1', now() - interval '400 days'),
		  ('ops', 'email.patch', 'email:2', now() - interval '399 days'),
		  ('ops', 'email.patch', 'email:3', now() - interval '398 days'),
		  ('ops', 'email.patch', 'email:4', now() - interval '1 day'),
		  ('ops', 'email.patch', 'email:5', now() - interval '397 days');`)
	require.NoError(t, err)
	seqs := func() []int64 {
		var out []int64
		require.NoError(t, pool.QueryRow(ctx, `SELECT coalesce(array_agg(seq ORDER BY seq), '{}') FROM audit_events`).Scan(&out))
		return out
	}

	res, err := maintenance.New(pool, &maintenance.Config{}).RunOnce(ctx)
	require.NoError(t, err)
	require.NotContains(t, res, "audit_events", "off by default")
	require.Equal(t, []int64{1, 2, 3, 4, 5}, seqs())

	c := maintenance.New(pool, &maintenance.Config{AuditRetention: 365 * 24 * time.Hour, BatchSize: 2})
	res, err = c.RunOnce(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 3, res["audit_events"])
	require.Equal(t, []int64{4, 5}, seqs())

	rep, err := audit.Verify(ctx, pool, audit.VerifyOptions{})
	require.NoError(t, err)
	require.True(t, rep.Intact(), "%v", rep.Findings)
	require.EqualValues(t, 3, rep.FromSeq)
	require.EqualValues(t, 2, rep.Events)

	require.NoError(t, db.InTx(ctx, pool, func(q *db.Queries) error {
		return audit.Record(ctx, q, audit.Actor{ClientID: "ops"}, audit.ActionErase, "email:6", nil)
	}))
	rep, err = audit.Verify(ctx, pool, audit.VerifyOptions{})
	require.NoError(t, err)
	require.True(t, rep.Intact(), "%v", rep.Findings)
	require.EqualValues(t, 6, rep.HeadSeq)

	_, err = pool.Exec(ctx, `DELETE FROM audit_events WHERE seq = 4`)
	require.ErrorContains(t, err, "append-only", "only the pruned prefix may go")
}
