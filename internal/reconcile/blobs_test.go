package reconcile_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"mailsync/internal/db"
	"mailsync/internal/email"
	"mailsync/internal/ingest"
	"mailsync/internal/reconcile"
)

func blobOf(t *testing.T, kind string, n int) ingest.Blob {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	s := sha256.Sum256(b)
	return ingest.Blob{Kind: kind, SHA256: hex.EncodeToString(s[:]), Data: b}
}

// ingestBlobs stores one email carrying blobs.
func (e *env) ingestBlobs(blobs ...ingest.Blob) {
	e.t.Helper()
	c := content(e.next)
	for _, b := range blobs {
		if b.Kind == ingest.BlobAttachment {
			c.Attachments = append(c.Attachments, email.Attachment{Filename: "f", ContentType: "application/octet-stream",
				SizeBytes: int64(len(b.Data)), SHA256: b.SHA256})
		}
	}
	c.Normalize()
	_, err := e.ingest.Ingest(e.ctx, "test", []ingest.Item{{Key: fmt.Sprint("k", e.next), Fingerprint: fmt.Sprint(e.next),
		Content: c, Blobs: blobs}})
	require.NoError(e.t, err)
	e.next++
}

func (e *env) gridFS(b ingest.Blob) []byte {
	e.t.Helper()
	s, err := e.mongo.OpenBlob(e.ctx, b.SHA256)
	require.NoError(e.t, err)
	defer s.Close()
	got, err := io.ReadAll(s)
	require.NoError(e.t, err)
	return got
}

// TestBlobMismatchesFoundAndRepaired damages MongoDB's copies of blobs and
// leaves orphans in both stores: a dry run reports each as blob_missing or
// blob_orphan and changes nothing; a repairing run relays the missing
// blobs again and deletes the orphans, after which the stores agree.
func TestBlobMismatchesFoundAndRepaired(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	require.NoError(t, e.mongo.EnsureIndexes(e.ctx))
	raw, x, y, p := blobOf(t, ingest.BlobRaw, 300_000), blobOf(t, ingest.BlobAttachment, 600_000),
		blobOf(t, ingest.BlobAttachment, 1000), blobOf(t, ingest.BlobAttachment, 5000)
	e.ingestBlobs(raw, x)
	e.ingestBlobs(x)
	e.ingestBlobs(y)
	e.ingestBlobs(p)
	e.drain()
	rec := e.reconciler(reconcile.Config{})
	clean, err := rec.Run(e.ctx, reconcile.TriggerManual, false)
	require.NoError(t, err)
	require.EqualValues(t, 0, clean.MismatchesFound, "%+v", clean.Details)

	files, chunks := e.mongo.Coll().Database().Collection("fs.files"), e.mongo.Coll().Database().Collection("fs.chunks")
	// blob_missing: a chunk of x gone, y's files document gone, raw's first chunk with other bytes.
	_, err = chunks.DeleteOne(e.ctx, bson.D{{Key: "files_id", Value: x.SHA256}, {Key: "n", Value: int32(1)}})
	require.NoError(t, err)
	_, err = files.DeleteOne(e.ctx, bson.D{{Key: "_id", Value: y.SHA256}})
	require.NoError(t, err)
	_, err = chunks.UpdateOne(e.ctx, bson.D{{Key: "files_id", Value: raw.SHA256}, {Key: "n", Value: int32(0)}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "data", Value: bytes.Repeat([]byte{'z'}, 255*1024)}}}})
	require.NoError(t, err)
	// blob_orphan: a GridFS file and loose chunks PostgreSQL has no blob
	// for, a blob no email references, an upload no blob names.
	z := blobOf(t, ingest.BlobAttachment, 2000)
	_, err = e.mongo.PutBlob(e.ctx, z.SHA256, int64(len(z.Data)), bytes.NewReader(z.Data))
	require.NoError(t, err)
	_, err = chunks.InsertOne(e.ctx, bson.D{{Key: "files_id", Value: "loose"}, {Key: "n", Value: int32(0)}, {Key: "data", Value: []byte("x")}})
	require.NoError(t, err)
	_, err = e.pool.Exec(e.ctx, `DELETE FROM email_blobs WHERE sha256 = $1`, p.SHA256)
	require.NoError(t, err)
	_, _, _, err = db.New(e.pool).WriteBlobChunks(e.ctx, bytes.NewReader([]byte("never claimed")))
	require.NoError(t, err)
	_, err = e.pool.Exec(e.ctx, `UPDATE blob_chunks SET created_at = now() - interval '1 hour'
		WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.chunks_id = blob_chunks.chunks_id)`)
	require.NoError(t, err)

	before := e.snapshot()
	dry, err := rec.Run(e.ctx, reconcile.TriggerManual, true)
	require.NoError(t, err)
	require.Equal(t, before, e.snapshot(), "a dry run changes nothing")
	require.EqualValues(t, 3, dry.Details.Counts.BlobMissing)
	require.EqualValues(t, 4, dry.Details.Counts.BlobOrphan)
	require.ElementsMatch(t, []string{raw.SHA256, x.SHA256, y.SHA256}, dry.Details.BlobSamples["blob_missing"])
	require.ElementsMatch(t, []string{z.SHA256, "loose", p.SHA256}, dry.Details.BlobSamples["blob_orphan"])

	fix, err := rec.Run(e.ctx, reconcile.TriggerManual, false)
	require.NoError(t, err)
	require.EqualValues(t, 7, fix.MismatchesFound)
	require.EqualValues(t, 7, fix.AutoRepaired)
	require.Len(t, fix.Details.Samples.BlobMissing, 3)
	e.drain()

	after, err := rec.Run(e.ctx, reconcile.TriggerManual, false)
	require.NoError(t, err)
	require.EqualValues(t, 0, after.MismatchesFound, "%+v", after.Details)
	for _, b := range []ingest.Blob{raw, x, y} {
		require.True(t, bytes.Equal(b.Data, e.gridFS(b)), "blob %s relayed again whole", b.SHA256)
	}
	for _, sha := range []string{z.SHA256, "loose", p.SHA256} {
		n, err := chunks.CountDocuments(e.ctx, bson.D{{Key: "files_id", Value: sha}})
		require.NoError(t, err)
		require.Zero(t, n, sha)
	}
	require.Zero(t, e.count(`SELECT count(*) FROM blobs WHERE sha256 = $1`, p.SHA256))
	require.Zero(t, e.count(`SELECT count(*) FROM blob_chunks c WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.chunks_id = c.chunks_id)`))
}
