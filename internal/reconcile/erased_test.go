package reconcile_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"mailsync/internal/audit"
	"mailsync/internal/erasure"
	"mailsync/internal/reconcile"
)

// An erased email whose document survived (its delete was lost) is
// erased_but_present and repaired by a delete; an erased email whose
// document is a tombstone is correct, and a tombstone is no orphan.
func TestErasedButPresentIsFoundAndRepaired(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ingestN(300)
	e.drain()
	all := e.ids(`SELECT id FROM incoming_emails ORDER BY id`)
	gone, lost := pick(all, 4, 10), pick(all, 3, 55)

	svc := erasure.New(e.pool, &erasure.Config{MaxRetries: 3})
	erase := func(ids []int64) {
		for _, id := range ids {
			_, err := svc.Erase(e.ctx, id, "test", audit.Actor{ClientID: "ops"})
			require.NoError(t, err)
		}
	}
	erase(gone)
	e.drain() // these documents become tombstones: correct
	erase(lost)
	// The deletes of these are lost (processed without reaching MongoDB).
	_, err := e.pool.Exec(e.ctx, `UPDATE outbox_messages SET processed_at = now() WHERE processed_at IS NULL`)
	require.NoError(t, err)
	require.EqualValues(t, 300-4, mustCount(t, e))

	r := e.reconciler(reconcile.Config{})
	rep, err := r.Run(e.ctx, reconcile.TriggerManual, false)
	require.NoError(t, err)
	require.Equal(t, reconcile.Counts{ErasedButPresent: 3}, rep.Details.Counts)
	require.Equal(t, lost, rep.Details.Samples.ErasedButPresent)
	require.EqualValues(t, 3, rep.AutoRepaired)
	e.drain()
	require.EqualValues(t, 300-7, mustCount(t, e))

	final, err := r.Run(e.ctx, reconcile.TriggerManual, false)
	require.NoError(t, err)
	require.Zero(t, final.MismatchesFound, "%+v", final.Details)
	require.Equal(t, 7, e.count(`SELECT count(*) FROM incoming_emails WHERE erased_at IS NOT NULL AND sync_status = 'synced'`))
}

func mustCount(t *testing.T, e *env) int64 {
	t.Helper()
	n, err := e.mongo.Coll().CountDocuments(e.ctx, bson.D{{Key: "erased", Value: bson.D{{Key: "$ne", Value: true}}}}) // tombstones apart
	require.NoError(t, err)
	return n
}
