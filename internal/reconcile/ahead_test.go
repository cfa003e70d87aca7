package reconcile_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"mailsync/internal/reconcile"
)

// TestDocumentAheadOfPostgres: a MongoDB document whose version is higher
// than its email's cannot be repaired by a re-sync (the relay never lowers a
// version). It is reported as ahead_of_postgres, never counted as repaired,
// and the drift remains (server reconcile exits non-zero) run after run.
func TestDocumentAheadOfPostgres(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ingestN(300)
	e.drain()
	all := e.ids(`SELECT id FROM incoming_emails ORDER BY id`)
	ahead := pick(all, 2, 5)
	_, err := e.mongo.Coll().UpdateMany(e.ctx, idFilter(ahead), bson.D{{Key: "$inc", Value: bson.D{{Key: "version", Value: 3}}}})
	require.NoError(t, err)
	r := e.reconciler(reconcile.Config{})

	for run := 0; run < 2; run++ {
		rep, err := r.Run(e.ctx, reconcile.TriggerManual, false)
		require.NoError(t, err)
		require.Equal(t, reconcile.StatusCompleted, rep.Status)
		require.Equal(t, reconcile.Counts{AheadOfPostgres: 2}, rep.Details.Counts, "run %d", run)
		require.Equal(t, ahead, rep.Details.Samples.AheadOfPostgres)
		require.EqualValues(t, 2, rep.MismatchesFound)
		require.Zero(t, rep.AutoRepaired, "nothing was repaired")
		require.Zero(t, rep.FailedRepairs)
		require.True(t, rep.DriftRemains(), "the drift remains")
		require.Equal(t, 0, e.count(`SELECT count(*) FROM outbox_messages WHERE payload->>'reason' = 'repair'`))
		e.drain()
	}
}
