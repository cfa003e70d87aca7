package reconcile_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"mailsync/internal/ingest"
	"mailsync/internal/reconcile"
)

// TestLargeDocumentsDoNotStallARun: four emails of 14 MB among small ones.
// A batch of them is over the wire protocol's 48 MB reply limit, so a run
// reading 1,000 documents a time failed ("length of read message too
// large") or never returned; it completes, and finds a change to a large
// document.
func TestLargeDocumentsDoNotStallARun(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ingestN(150)
	var items []ingest.Item
	for i := 0; i < 4; i++ {
		c := content(10_000 + i)
		c.TextBody = strings.Repeat(fmt.Sprintf("large body %d ", i), 14<<20/14)
		items = append(items, ingest.Item{Key: fmt.Sprint("big", i), Fingerprint: fmt.Sprint("big", i), Content: c})
	}
	_, err := e.ingest.Ingest(e.ctx, "test", items)
	require.NoError(t, err)
	e.ingestN(50)
	e.drain()
	require.Equal(t, 204, e.count(`SELECT count(*) FROM incoming_emails WHERE sync_status = 'synced'`))
	r := e.reconciler(reconcile.Config{Timeout: 5 * time.Minute}) // fail, not hang, if a read stalls

	rep, err := r.Run(e.ctx, reconcile.TriggerManual, true)
	require.NoError(t, err)
	require.Equal(t, reconcile.StatusCompleted, rep.Status)
	require.Zero(t, rep.MismatchesFound, "%+v", rep.Details)
	require.EqualValues(t, 2*204, rep.RecordsChecked)

	big := e.ids(`SELECT id FROM incoming_emails WHERE length(text_body) > 1000000 ORDER BY id`)
	require.Len(t, big, 4)
	_, err = e.mongo.Coll().UpdateOne(e.ctx, bson.D{{Key: "_id", Value: big[2]}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "subject", Value: "changed behind the service's back"}}}})
	require.NoError(t, err)
	rep, err = r.Run(e.ctx, reconcile.TriggerManual, true)
	require.NoError(t, err)
	require.Equal(t, reconcile.Counts{ContentMismatch: 1}, rep.Details.Counts)
	require.Equal(t, big[2:3], rep.Details.Samples.ContentMismatch)
}
