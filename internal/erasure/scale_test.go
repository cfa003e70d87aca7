package erasure_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"mailsync/internal/audit"
	"mailsync/internal/db/dbtest"
	"mailsync/internal/email"
	"mailsync/internal/erasure"
	"mailsync/internal/ingest"
	"mailsync/internal/mongostore/mongotest"
	"mailsync/internal/reconcile"
	"mailsync/internal/relay"
)

// Erasing by address one email in ten removes exactly those from both
// stores, and a reconciliation then finds nothing. 2,000 emails by default;
// MAILSYNC_SCALE=1 runs the 1,000 among 10,000 (about 2.5 minutes on
// a loaded 2-CPU machine, most of it FerretDB deleting by _id lists).
func TestErasureByAddressAtScale(t *testing.T) {
	t.Parallel()
	total := 2_000
	if os.Getenv("MAILSYNC_SCALE") == "1" {
		total = 10_000
	}
	pool, _ := dbtest.New(t)
	m, _ := mongotest.NewStore(t)
	ctx := context.Background()
	const every = 10
	svc := ingest.NewService(pool, &ingest.Config{Render: func(email.Stored) ([]byte, error) { return []byte("{}"), nil }})
	for done := 0; done < total; {
		var items []ingest.Item
		for ; done < total && len(items) < 500; done++ {
			from := fmt.Sprintf("user%d@example.com", done)
			if done%every == 0 {
				from = "Dana <dana@example.com>"
			}
			c := email.Content{MessageID: fmt.Sprintf("<%d@scale.test>", done), From: from, To: []string{"support@example.org"},
				Subject: "hello", ReceivedAt: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
			c.Normalize()
			items = append(items, ingest.Item{Key: fmt.Sprint("s", done), Fingerprint: "f", Content: c})
		}
		_, err := svc.Ingest(ctx, "test", items)
		require.NoError(t, err)
	}
	rel := relay.New(pool, m, &relay.Config{BatchSize: 500, Lease: time.Minute})
	drain := func() { // a pass that overran its lease gave its rows back: claim again
		deadline := time.Now().Add(5 * time.Minute)
		for {
			n, err := rel.RunOnce(ctx, "scale")
			if err == nil && n == 0 {
				return
			}
			require.True(t, time.Now().Before(deadline), "relay drain timed out (last error: %v)", err)
		}
	}
	drain()

	start := time.Now()
	s := erasure.New(pool, &erasure.Config{Worker: "scale"})
	addr := "dana@example.com"
	job, _, err := s.StartJob(ctx, erasure.Request{Criteria: erasure.Criteria{Address: &addr}, Key: "k", Fingerprint: "f", TTL: time.Hour},
		audit.Actor{ClientID: "ops"})
	require.NoError(t, err)
	ran, err := s.RunOnce(ctx)
	require.NoError(t, err)
	require.True(t, ran)
	erased := time.Since(start)
	drain()
	t.Logf("erased %d of %d emails in PostgreSQL in %s, both stores in %s", total/every, total, erased, time.Since(start))

	got, err := s.Job(ctx, job.ID)
	require.NoError(t, err)
	require.EqualValues(t, total/every, got.Matched)
	require.EqualValues(t, total/every, got.Erased)
	docs, err := m.Coll().CountDocuments(ctx, bson.D{{Key: "erased", Value: bson.D{{Key: "$ne", Value: true}}}})
	require.NoError(t, err)
	require.EqualValues(t, total-total/every, docs)
	tombs, err := m.Coll().CountDocuments(ctx, bson.D{{Key: "erased", Value: true}})
	require.NoError(t, err)
	require.EqualValues(t, total/every, tombs)
	left, err := m.Coll().CountDocuments(ctx, bson.D{{Key: "from", Value: "Dana <dana@example.com>"}})
	require.NoError(t, err)
	require.Zero(t, left)

	rec := reconcile.New(pool, m, &reconcile.Config{})
	t.Cleanup(func() { require.NoError(t, rec.Stop(context.Background())) })
	rep, err := rec.Run(ctx, reconcile.TriggerManual, true)
	require.NoError(t, err)
	require.Zero(t, rep.MismatchesFound, "%+v", rep.Details)
}
