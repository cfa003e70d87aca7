package handlers_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"mailsync/internal/mongostore"
	"mailsync/internal/testwait"
)

// gridFSFile reports whether MongoDB holds a GridFS file named sha.
func (e *env) gridFSFile(sha string) bool {
	e.t.Helper()
	n, err := e.mongo.Coll().Database().Collection("fs.files").CountDocuments(context.Background(), bson.D{{Key: "_id", Value: sha}})
	require.NoError(e.t, err)
	return n > 0
}

func (e *env) gridFSCount(coll string) int {
	e.t.Helper()
	n, err := e.mongo.Coll().Database().Collection(coll).CountDocuments(context.Background(), bson.D{})
	require.NoError(e.t, err)
	return int(n)
}

// gridFSSHA256 reads blob sha through the driver's GridFS API and returns
// the SHA-256 of what it read.
func gridFSSHA256(t testing.TB, m *mongostore.Store, sha256hex string) string {
	t.Helper()
	s, err := m.OpenBlob(context.Background(), sha256hex)
	require.NoError(t, err)
	defer s.Close()
	b, err := io.ReadAll(s)
	require.NoError(t, err)
	return sha(b)
}

// TestErasureReleasesOnlyUnsharedBlobs erases one of two emails sharing an
// attachment: its own raw message leaves both stores, the shared
// attachment stays in both and still downloads; erasing the second email
// removes the attachment too.
func TestErasureReleasesOnlyUnsharedBlobs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{relay: true, maxBody: 8 << 20})
	shared := randomBytes(t, 400_000)
	raw1 := rawMessage("first", mimePart{filename: "s.bin", contentType: "application/octet-stream", data: shared})
	raw2 := rawMessage("second", mimePart{filename: "s.bin", contentType: "application/octet-stream", data: shared})
	var ids []string
	for i, raw := range [][]byte{raw1, raw2} {
		r := e.do(http.MethodPost, "/v1/emails", "message/rfc822", raw, "Idempotency-Key", "er-"+itoa(i))
		require.Equal(t, http.StatusCreated, r.status, string(r.body))
		ids = append(ids, itoa(int(r.json(t)["id"].(float64))))
	}
	e.waitDrained()
	for _, b := range [][]byte{raw1, raw2, shared} {
		require.True(t, e.gridFSFile(sha(b)))
	}

	d := e.do(http.MethodDelete, "/v1/emails/"+ids[0], "", nil)
	require.Equal(t, http.StatusOK, d.status, string(d.body))
	require.Equal(t, 0, e.count(`SELECT count(*) FROM blobs WHERE sha256 = $1`, sha(raw1)))
	require.Equal(t, 0, e.count(`SELECT count(*) FROM blob_chunks c WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.chunks_id = c.chunks_id)`))
	require.Equal(t, http.StatusGone, e.do(http.MethodGet, "/v1/emails/"+ids[0]+"/raw", "", nil).status)
	e.waitDrained()
	require.False(t, e.gridFSFile(sha(raw1)), "the erased email's raw message leaves MongoDB")
	require.True(t, e.gridFSFile(sha(shared)), "a blob shared with a live email stays")
	require.True(t, e.gridFSFile(sha(raw2)))
	a := e.do(http.MethodGet, "/v1/emails/"+ids[1]+"/attachments/0", "", nil)
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, shared, a.body)

	require.Equal(t, http.StatusOK, e.do(http.MethodDelete, "/v1/emails/"+ids[1], "", nil).status)
	e.waitDrained()
	require.Equal(t, 0, e.count(`SELECT count(*) FROM blobs`))
	require.Equal(t, 0, e.count(`SELECT count(*) FROM blob_chunks`))
	require.Equal(t, 0, e.gridFSCount("fs.files"))
	require.Equal(t, 0, e.gridFSCount("fs.chunks"))
}

// TestSameAttachmentOnHundredEmails stores one attachment on 100 emails:
// it is one blob in PostgreSQL and one GridFS file in MongoDB, and an
// erasure job erasing all 100 removes it from both.
func TestSameAttachmentOnHundredEmails(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{relay: true, maxBody: 32 << 20, requestTimeout: slowRequestTimeout})
	data := randomBytes(t, 100_000)
	var items []map[string]any
	for i := range 100 {
		body := sampleEmail(1000 + i)
		body["mailbox"] = "invoices"
		body["attachments"] = []map[string]any{{"filename": "invoice.pdf", "content_type": "application/pdf",
			"size_bytes": len(data), "sha256": sha(data), "content": base64.StdEncoding.EncodeToString(data)}}
		items = append(items, map[string]any{"idempotency_key": "h-" + itoa(i), "email": body})
	}
	batch, err := json.Marshal(map[string]any{"emails": items})
	require.NoError(t, err)
	r := e.do(http.MethodPost, "/v1/emails/batch", "application/json", batch)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	for _, res := range r.json(t)["results"].([]any) {
		require.EqualValues(t, http.StatusCreated, res.(map[string]any)["status"])
	}
	e.waitDrained()
	require.Equal(t, 100, e.count(`SELECT count(*) FROM incoming_emails WHERE sync_status = 'synced'`))
	require.Equal(t, 1, e.count(`SELECT count(*) FROM blobs`))
	require.Equal(t, 1, e.count(`SELECT count(*) FROM blobs WHERE synced_at IS NOT NULL`))
	require.Equal(t, 1, e.gridFSCount("fs.files"))
	require.Equal(t, sha(data), gridFSSHA256(t, e.mongo, sha(data)))
	e.requireBlobCounts(1, len(data))

	j := e.do(http.MethodPost, "/v1/erasures", "application/json", []byte(`{"mailbox": "invoices"}`), "Idempotency-Key", "erase-all")
	require.Equal(t, http.StatusAccepted, j.status, string(j.body))
	testwait.Until(t, time.Minute, "the erasure job", func() bool {
		return e.do(http.MethodGet, j.header.Get("Location"), "", nil).json(t)["status"] == "completed"
	})
	require.Equal(t, 0, e.count(`SELECT count(*) FROM blobs`))
	require.Equal(t, 0, e.count(`SELECT count(*) FROM blob_chunks`))
	e.waitDrained()
	require.Equal(t, 0, e.gridFSCount("fs.files"))
	require.Equal(t, 0, e.gridFSCount("fs.chunks"))
	e.requireBlobCounts(0, 0)
}

// requireBlobCounts checks the blob counts of /v1/sync/status and /metrics:
// n blobs of size bytes in each store.
func (e *env) requireBlobCounts(n, size int) {
	e.t.Helper()
	blobs := e.do(http.MethodGet, "/v1/sync/status", "", nil).json(e.t)["blobs"].(map[string]any)
	for _, store := range []string{"postgresql", "mongodb"} {
		require.Equal(e.t, map[string]any{"count": float64(n), "bytes": float64(size)}, blobs[store], store)
		require.EqualValues(e.t, n, e.metric(`mailsync_blobs{store="`+store+`"}`), store)
		require.EqualValues(e.t, size, e.metric(`mailsync_blob_bytes{store="`+store+`"}`), store)
	}
}
