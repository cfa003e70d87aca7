package mongostore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"mailsync/internal/mongostore"
	"mailsync/internal/mongostore/mongotest"
)

// A tombstone replaces the document and no write of an older version, by
// insert or by replace, brings the content back; a newer tombstone wins
// over an older one, and an older one changes nothing.
func TestTombstoneHoldsAgainstOlderWrites(t *testing.T) {
	t.Parallel()
	s, _ := mongotest.NewStore(t)
	ctx := context.Background()
	_, err := s.Write(ctx, []mongostore.Document{doc(1, 1, "one")})
	require.NoError(t, err)

	res, err := s.Erase(ctx, []int64{1, 2}, map[int64]int64{1: 3, 2: 5}) // 2 has no document yet
	require.NoError(t, err)
	require.Equal(t, 2, res.Written)
	for _, late := range []mongostore.Document{doc(1, 2, "late"), doc(2, 4, "late")} {
		w, err := s.Write(ctx, []mongostore.Document{late})
		require.NoError(t, err)
		require.Equal(t, 1, w.Current, "an older write leaves the tombstone")
	}
	for _, id := range []int64{1, 2} {
		raw, err := s.Coll().FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
		require.NoError(t, err)
		require.True(t, mongostore.IsTombstone(raw))
		_, has := raw.Lookup("subject").StringValueOK()
		require.False(t, has)
	}
	_, err = s.Erase(ctx, []int64{1}, map[int64]int64{1: 2})
	require.NoError(t, err)
	require.EqualValues(t, 3, stored(t, s, 1).Version, "an older tombstone changes nothing")
	_, err = s.Erase(ctx, []int64{1}, map[int64]int64{1: 4})
	require.NoError(t, err)
	require.EqualValues(t, 4, stored(t, s, 1).Version)
}

// Erasing many documents is one bounded statement per document: when the
// deadline comes near, the ids not reached are handed back, and a later
// call finishes them.
func TestEraseDefersWhatItCannotReachInTime(t *testing.T) {
	t.Parallel()
	s, _ := mongotest.NewStore(t)
	ctx := context.Background()
	var docs []mongostore.Document
	var ids []int64
	versions := map[int64]int64{}
	for i := int64(1); i <= 600; i++ {
		docs = append(docs, doc(i, 1, "x"))
		ids = append(ids, i)
		versions[i] = 2
	}
	_, err := s.Write(ctx, docs)
	require.NoError(t, err)
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	res, err := s.Erase(short, ids, versions)
	require.NoError(t, err)
	require.GreaterOrEqual(t, res.Written, 1)
	require.NotEmpty(t, res.Deferred, "600 documents are not erased in 300 ms")
	require.Equal(t, len(ids), res.Written+len(res.Deferred))
	rest, err := s.Erase(ctx, res.Deferred, versions)
	require.NoError(t, err)
	require.Empty(t, rest.Deferred)
	n, err := s.Coll().CountDocuments(ctx, bson.D{{Key: "erased", Value: true}})
	require.NoError(t, err)
	require.EqualValues(t, 600, n)
}
