package mongostore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"mailsync/internal/email"
	"mailsync/internal/mongostore"
	"mailsync/internal/mongostore/mongotest"
)

func doc(id, version int64, subject string) mongostore.Document {
	c := email.Content{
		ClientID: "c", MessageID: "<m@example.com>", From: "a@example.com", To: []string{"b@example.com"},
		Subject: subject, Headers: map[string][]string{"X-A.b": {"1"}, "$odd": {"2"}},
		ReceivedAt: time.Date(2026, 11, 27, 10, 0, 0, 123_000_000, time.UTC),
	}
	c.Normalize()
	return mongostore.FromEmail(email.Stored{Content: c, ID: id, Version: version, ContentHash: c.Hash()}, time.Now())
}

func stored(t *testing.T, s *mongostore.Store, id int64) mongostore.Document {
	t.Helper()
	var d mongostore.Document
	require.NoError(t, s.Coll().FindOne(context.Background(), bson.D{{Key: "_id", Value: id}}).Decode(&d))
	return d
}

func TestWriteReplayNeverDuplicates(t *testing.T) {
	t.Parallel()
	s, _ := mongotest.NewStore(t)
	ctx := context.Background()
	docs := []mongostore.Document{doc(1, 1, "one"), doc(2, 1, "two")}
	res, err := s.Write(ctx, docs)
	require.NoError(t, err)
	require.Equal(t, 2, res.Inserted)

	res, err = s.Write(ctx, append(docs, doc(3, 1, "three")))
	require.NoError(t, err)
	require.Equal(t, 1, res.Inserted, "only the new document is inserted")
	require.Equal(t, 2, res.Current, "replays are left alone")
	n, err := s.Coll().CountDocuments(ctx, bson.D{})
	require.NoError(t, err)
	require.EqualValues(t, 3, n)
}

func TestWriteStaleVersionNeverOverwrites(t *testing.T) {
	t.Parallel()
	s, _ := mongotest.NewStore(t)
	ctx := context.Background()
	_, err := s.Write(ctx, []mongostore.Document{doc(1, 3, "newest")})
	require.NoError(t, err)

	res, err := s.Write(ctx, []mongostore.Document{doc(1, 2, "stale")})
	require.NoError(t, err)
	require.Equal(t, 1, res.Current)
	require.Equal(t, 0, res.Replaced)
	got := stored(t, s, 1)
	require.Equal(t, "newest", got.Subject)
	require.EqualValues(t, 3, got.Version)

	res, err = s.Write(ctx, []mongostore.Document{doc(1, 4, "newer")})
	require.NoError(t, err)
	require.Equal(t, 1, res.Replaced)
	require.Equal(t, "newer", stored(t, s, 1).Subject)
}

func TestWriteRepairsDocumentChangedBehindTheService(t *testing.T) {
	t.Parallel()
	st, _ := mongotest.NewStore(t)
	ctx := context.Background()
	d := doc(7, 1, "original")
	_, err := st.Write(ctx, []mongostore.Document{d})
	require.NoError(t, err)
	// Someone edits the document but leaves version and content_hash alone.
	_, err = st.Coll().UpdateOne(ctx, bson.D{{Key: "_id", Value: int64(7)}}, bson.D{{Key: "$set", Value: bson.D{{Key: "subject", Value: "tampered"}}}})
	require.NoError(t, err)
	require.NotEqual(t, d.ContentHash, stored(t, st, 7).Content().Hash())

	res, err := st.Write(ctx, []mongostore.Document{d})
	require.NoError(t, err)
	require.Equal(t, 1, res.Replaced)
	got := stored(t, st, 7)
	require.Equal(t, "original", got.Subject)
	require.Equal(t, d.ContentHash, got.Content().Hash(), "the document's own fields hash to the PostgreSQL hash again")
}

func TestDocumentContentRoundTrip(t *testing.T) {
	t.Parallel()
	s, _ := mongotest.NewStore(t)
	d := doc(9, 1, "round trip")
	_, err := s.Write(context.Background(), []mongostore.Document{d})
	require.NoError(t, err)
	got := stored(t, s, 9)
	require.Equal(t, d.ContentHash, got.Content().Hash())
	require.Equal(t, map[string][]string{"X-A.b": {"1"}, "$odd": {"2"}}, got.Content().Headers)
}
