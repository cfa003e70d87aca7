package reconcile_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"mailsync/internal/reconcile"
)

// TestDriftIsFoundExactlyAndRepaired is the drift test: 2,000
// synced emails; 10 documents deleted, 10 changed behind the service's back
// (content_hash left intact), 5 orphans, 3 synced rows set to failed.
func TestDriftIsFoundExactlyAndRepaired(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ingestN(2000)
	e.drain()
	keep := e.reconciler(reconcile.Config{})

	clean, err := keep.Run(e.ctx, reconcile.TriggerManual, true)
	require.NoError(t, err)
	require.Equal(t, reconcile.StatusCompleted, clean.Status)
	require.Zero(t, clean.MismatchesFound, "%+v", clean.Details)
	require.EqualValues(t, 4000, clean.RecordsChecked)
	require.False(t, clean.DriftRemains())

	all := e.ids(`SELECT id FROM incoming_emails ORDER BY id`)
	require.Len(t, all, 2000)
	deleted, changed, failed := pick(all, 10, 3), pick(all, 10, 11), pick(all, 3, 57)
	maxID := all[len(all)-1]
	orphans := []int64{maxID + 1, maxID + 2, maxID + 3, maxID + 10, maxID + 1000}

	n, err := e.mongo.Delete(e.ctx, deleted)
	require.NoError(t, err)
	require.EqualValues(t, 10, n)
	up, err := e.mongo.Coll().UpdateMany(e.ctx, idFilter(changed),
		bson.D{{Key: "$set", Value: bson.D{{Key: "subject", Value: "changed behind the service's back"}}}})
	require.NoError(t, err)
	require.EqualValues(t, 10, up.ModifiedCount)
	for _, id := range orphans {
		_, err := e.mongo.Coll().InsertOne(e.ctx, orphanDoc(id))
		require.NoError(t, err)
	}
	tag, err := e.pool.Exec(e.ctx, `UPDATE incoming_emails SET sync_status = 'failed', sync_error = 'boom' WHERE id = ANY($1)`, failed)
	require.NoError(t, err)
	require.EqualValues(t, 3, tag.RowsAffected())

	want := reconcile.Counts{MissingInMongo: 10, ContentMismatch: 10, OrphanInMongo: 5, StatusDrift: 3}
	wantSamples := reconcile.Samples{MissingInMongo: deleted, ContentMismatch: changed, OrphanInMongo: orphans, StatusDrift: failed,
		AheadOfPostgres: []int64{}, ErasedButPresent: []int64{}, BlobMissing: []int64{}, BlobOrphan: []int64{}}

	// A dry run reports exactly and changes nothing.
	before := e.snapshot()
	dry, err := keep.Run(e.ctx, reconcile.TriggerManual, true)
	require.NoError(t, err)
	require.Equal(t, want, dry.Details.Counts)
	require.Equal(t, wantSamples, dry.Details.Samples)
	require.EqualValues(t, 28, dry.MismatchesFound)
	require.Zero(t, dry.AutoRepaired)
	require.True(t, dry.DryRun)
	require.True(t, dry.DriftRemains())
	require.EqualValues(t, 2000+2000-10+5, dry.RecordsChecked)
	require.Equal(t, before, e.snapshot(), "a dry run changes nothing")

	// A repair run without RemoveOrphans repairs all but the orphans.
	fixed, err := keep.Run(e.ctx, reconcile.TriggerManual, false)
	require.NoError(t, err)
	require.Equal(t, want, fixed.Details.Counts)
	require.EqualValues(t, 23, fixed.AutoRepaired)
	require.Zero(t, fixed.FailedRepairs)
	require.True(t, fixed.DriftRemains(), "orphans are kept")
	require.Equal(t, 0, e.count(`SELECT count(*) FROM incoming_emails WHERE id = ANY($1) AND sync_status <> 'synced'`, failed))
	require.Equal(t, 20, e.count(`SELECT count(*) FROM outbox_messages WHERE payload->>'reason' = 'repair' AND operation = 'upsert'`))
	e.drain()

	again, err := keep.Run(e.ctx, reconcile.TriggerScheduled, false)
	require.NoError(t, err)
	require.Equal(t, reconcile.Counts{OrphanInMongo: 5}, again.Details.Counts, "only the orphans remain")
	require.Equal(t, orphans, again.Details.Samples.OrphanInMongo)

	// With RemoveOrphans the relay removes them, and nothing is left.
	// (Ranges of 7 ids put the orphans in adjacent ranges, fetched as one.)
	remove := e.reconciler(reconcile.Config{RemoveOrphans: true, RangeSize: 7})
	rm, err := remove.Run(e.ctx, reconcile.TriggerManual, false)
	require.NoError(t, err)
	require.Equal(t, reconcile.Counts{OrphanInMongo: 5}, rm.Details.Counts)
	require.EqualValues(t, 5, rm.AutoRepaired)
	require.False(t, rm.DriftRemains())
	e.drain()
	final, err := remove.Run(e.ctx, reconcile.TriggerManual, false)
	require.NoError(t, err)
	require.Zero(t, final.MismatchesFound, "%+v", final.Details)
	require.EqualValues(t, 4000, final.RecordsChecked)
	docs, err := e.mongo.Coll().CountDocuments(e.ctx, bson.D{})
	require.NoError(t, err)
	require.EqualValues(t, 2000, docs)
	require.Equal(t, 2000, e.count(`SELECT count(*) FROM incoming_emails WHERE sync_status = 'synced'`))

	// Every run is a report, newest first.
	list, next, err := keep.List(e.ctx, nil, 3)
	require.NoError(t, err)
	require.Len(t, list, 3)
	require.NotNil(t, next)
	require.Equal(t, final.ID, list[0].ID)
	rest, next, err := keep.List(e.ctx, next, 10)
	require.NoError(t, err)
	require.Nil(t, next)
	require.Len(t, rest, 3)
	require.Equal(t, clean.ID, rest[2].ID)
	got, err := keep.Get(e.ctx, dry.ID)
	require.NoError(t, err)
	require.Equal(t, dry.Details, got.Details)
}

// TestInFlightEmailsAreNotMismatches: emails whose outbox message is younger
// than the grace period are not reported; older ones are.
func TestInFlightEmailsAreNotMismatches(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ingestN(300)
	e.drain()
	e.ingestN(7) // fresh pending outbox: in flight
	r := e.reconciler(reconcile.Config{})

	rep, err := r.Run(e.ctx, reconcile.TriggerManual, false)
	require.NoError(t, err)
	require.Zero(t, rep.MismatchesFound, "%+v", rep.Details)
	require.Zero(t, rep.AutoRepaired)

	// A message stuck for longer than the grace period is not in flight.
	stuck := e.ids(`SELECT max(id) FROM incoming_emails`)
	_, err = e.pool.Exec(e.ctx, `UPDATE outbox_messages SET created_at = now() - interval '10 minutes' WHERE aggregate_id = $1`, stuck[0])
	require.NoError(t, err)
	rep, err = r.Run(e.ctx, reconcile.TriggerManual, true)
	require.NoError(t, err)
	require.Equal(t, reconcile.Counts{MissingInMongo: 1}, rep.Details.Counts)
	require.Equal(t, stuck, rep.Details.Samples.MissingInMongo)
	require.Equal(t, []int64{}, rep.Details.Samples.StatusDrift, "samples are never null")

	// Once relayed, a pending email whose message is gone is status drift.
	e.drain()
	_, err = e.pool.Exec(e.ctx, `UPDATE incoming_emails SET sync_status = 'pending' WHERE id = $1`, stuck[0])
	require.NoError(t, err)
	rep, err = r.Run(e.ctx, reconcile.TriggerManual, false)
	require.NoError(t, err)
	require.Equal(t, reconcile.Counts{StatusDrift: 1}, rep.Details.Counts)
	require.EqualValues(t, 1, rep.AutoRepaired)
}
