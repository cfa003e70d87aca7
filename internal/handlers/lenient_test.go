package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"mailsync/internal/mongostore"
)

// TestRawEnmimeCorpusIsStored posts every message of the enmime corpus
// (broken and unusual real-world mail): all are stored (201) but the one
// without a header (400); the ones with defects are listed by
// ?parse_defects=true, the others by ?parse_defects=false, and MongoDB
// holds the defects with a document that hashes to the email's hash.
func TestRawEnmimeCorpusIsStored(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{relay: true})
	files, err := filepath.Glob("../ingest/testdata/enmime/*/*.raw")
	require.NoError(t, err)
	require.Len(t, files, 90)
	var withDefects, clean []any
	stored := 0
	for i, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		r := e.postRaw("corpus-"+itoa(i), raw)
		if filepath.Base(f) == "erroneous.raw" {
			require.Equal(t, http.StatusBadRequest, r.status, string(r.body))
			continue
		}
		require.Equal(t, http.StatusCreated, r.status, "%s: %s", f, r.body)
		stored++
		got := r.json(t)
		defects, ok := got["parse_defects"].([]any)
		require.True(t, ok, "parse_defects is an array: %s", r.body)
		if len(defects) > 0 {
			withDefects = append([]any{got["id"]}, withDefects...)
		} else {
			clean = append([]any{got["id"]}, clean...)
		}
	}
	require.Equal(t, 89, stored)
	require.Len(t, withDefects, 22)
	for q, want := range map[string][]any{"true": withDefects, "false": clean} {
		r := e.do(http.MethodGet, "/v1/emails?limit=500&parse_defects="+q, "", nil)
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		var page struct{ Items []map[string]any }
		require.NoError(t, json.Unmarshal(r.body, &page))
		var ids []any
		for _, it := range page.Items {
			ids = append(ids, it["id"])
		}
		require.Equal(t, want, ids, "parse_defects=%s", q)
	}
	bad := e.do(http.MethodGet, "/v1/emails?parse_defects=maybe", "", nil)
	require.Equal(t, http.StatusBadRequest, bad.status, string(bad.body))

	id := withDefects[0]
	e.waitStatus(itoa(int(id.(float64))), "synced")
	var want struct {
		defects []string
		hash    string
	}
	require.NoError(t, e.pool.QueryRow(context.Background(),
		`SELECT parse_defects, content_hash FROM incoming_emails WHERE id = $1`, int64(id.(float64))).Scan(&want.defects, &want.hash))
	var doc mongostore.Document
	require.NoError(t, e.mongo.Coll().FindOne(context.Background(), bson.D{{Key: "_id", Value: int64(id.(float64))}}).Decode(&doc))
	require.NotEmpty(t, doc.ParseDefects)
	require.Equal(t, want.defects, doc.ParseDefects)
	require.Equal(t, want.hash, doc.Content().Hash())
}
