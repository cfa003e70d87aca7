package db_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"mailsync/internal/audit"
	"mailsync/internal/db"
)

// TestAuditChainMigrationChainsExistingEvents applies 000011 over events
// written before it: they become the chain's first events, in id order,
// verified like any other; the migration reverts and reapplies.
func TestAuditChainMigrationChainsExistingEvents(t *testing.T) {
	t.Parallel()
	m, conn := emptyDatabase(t)
	ctx := context.Background()
	require.NoError(t, m.Steps(8)) // up to 000008, before the chain
	_, err := conn.Exec(ctx, `INSERT INTO audit_events (client_id, action, target, details, at) VALUES
		('ops', 'email.erase', 'email:1', '{"reason": "asked", "n": 1}', now() - interval '2 days'),
		('retention', 'retention.erase', 'email:2', '{}', now() - interval '1 day'),
		('ops', 'email.patch', 'email:3', '{"labels": ["é"]}', now())`)
	require.NoError(t, err)
	require.NoError(t, m.Up())

	pool, err := db.Open(ctx, conn.Config().ConnString(), 2)
	require.NoError(t, err)
	defer pool.Close()
	rep, err := audit.Verify(ctx, pool, audit.VerifyOptions{})
	require.NoError(t, err)
	require.True(t, rep.Intact(), "%v", rep.Findings)
	require.EqualValues(t, 3, rep.Events)
	require.Equal(t, []string{"1", "2", "3"}, strings(t, conn, `SELECT seq::text FROM audit_events ORDER BY id`))

	require.NoError(t, db.InTx(ctx, pool, func(q *db.Queries) error {
		return audit.Record(ctx, q, audit.Actor{ClientID: "ops"}, audit.ActionSyncRetry, "email:4", nil)
	}))
	rep, err = audit.Verify(ctx, pool, audit.VerifyOptions{})
	require.NoError(t, err)
	require.True(t, rep.Intact(), "%v", rep.Findings)
	require.EqualValues(t, 4, rep.HeadSeq)

	pool.Close()
	v, _, err := m.Version()
	require.NoError(t, err)
	for ; v > 8; v, _, _ = m.Version() {
		require.NoError(t, m.Steps(-1))
	}
	require.NotContains(t, columns(t, conn, "audit_events"), "hash")
	require.NotContains(t, tables(t, conn), "audit_chain")
	_, err = conn.Exec(ctx, `DELETE FROM audit_events WHERE target = 'email:4'`)
	require.NoError(t, err, "no guard once reverted")
	require.NoError(t, m.Up())
	require.Subset(t, columns(t, conn, "audit_events"), []string{"seq", "hash", "prev_hash", "details_hash"})
}
