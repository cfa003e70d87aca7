package relay_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"mailsync/internal/audit"
	"mailsync/internal/db/dbtest"
	"mailsync/internal/erasure"
	"mailsync/internal/mongostore"
	"mailsync/internal/mongostore/mongotest"
	"mailsync/internal/relay"
)

// A relay worker that loaded an email before its erasure, and writes after
// the erasure's delete was relayed, does not bring the document back: the
// delete left a version-guarded tombstone, and nothing heals it later (no
// other relay runs after the late write).
func TestUpsertLoadedBeforeErasureDoesNotBringTheDocumentBack(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	m, _ := mongotest.NewStore(t)
	ctx := context.Background()
	slow := relay.New(pool, m, fastConfig())
	other := relay.New(pool, m, fastConfig())
	ingestN(t, newIngest(pool, other), 0, 1)
	var id int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT id FROM incoming_emails`).Scan(&id))

	loaded, resume := make(chan struct{}), make(chan struct{})
	slow.OnLoad(func(int, int64) {
		close(loaded)
		<-resume
	})
	done := make(chan error, 1)
	go func() {
		_, err := slow.RunOnce(ctx, "slow")
		done <- err
	}()
	<-loaded // the slow worker holds the email's content

	_, err := erasure.New(pool, &erasure.Config{}).Erase(ctx, id, "", audit.Actor{ClientID: "ops"})
	require.NoError(t, err)
	n, err := other.RunOnce(ctx, "other") // relays the delete
	require.NoError(t, err)
	require.Equal(t, 1, n)

	close(resume) // the slow worker writes what it loaded
	require.NoError(t, <-done)

	raw, err := m.Coll().FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
	if err != nil {
		require.ErrorIs(t, err, mongo.ErrNoDocuments)
		return
	}
	require.True(t, mongostore.IsTombstone(raw), "the erased email's content is back in MongoDB: %s", raw)
	_, hasBody := raw.Lookup("text_body").StringValueOK()
	require.False(t, hasBody)

	// Relaying what is left changes nothing.
	for {
		n, err := other.RunOnce(ctx, "other")
		require.NoError(t, err)
		if n == 0 {
			break
		}
	}
	raw, err = m.Coll().FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
	require.NoError(t, err)
	require.True(t, mongostore.IsTombstone(raw))
}
