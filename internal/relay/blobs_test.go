package relay_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"mailsync/internal/db/dbtest"
	"mailsync/internal/email"
	"mailsync/internal/ingest"
	"mailsync/internal/mongostore"
	"mailsync/internal/mongostore/mongotest"
	"mailsync/internal/relay"
	"mailsync/internal/testwait"
)

func randomBlob(t testing.TB, n int) ingest.Blob {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	s := sha256.Sum256(b)
	return ingest.Blob{Kind: ingest.BlobAttachment, SHA256: hex.EncodeToString(s[:]), Data: b}
}

func rawBlob(t testing.TB, n int) ingest.Blob {
	b := randomBlob(t, n)
	b.Kind = ingest.BlobRaw
	return b
}

// blobItem is email i carrying blobs (attachments listed in its metadata).
func blobItem(i int, blobs ...ingest.Blob) ingest.Item {
	c := content(i)
	for _, b := range blobs {
		if b.Kind == ingest.BlobAttachment {
			c.Attachments = append(c.Attachments, email.Attachment{Filename: "f.bin", ContentType: "application/octet-stream",
				SizeBytes: int64(len(b.Data)), SHA256: b.SHA256})
		}
	}
	c.Normalize()
	return ingest.Item{Key: fmt.Sprint("k", i), Fingerprint: fmt.Sprint(i), Content: c, Blobs: blobs}
}

// gridFSBytes reads blob sha back with the driver's GridFS API.
func gridFSBytes(t testing.TB, m *mongostore.Store, sha string) []byte {
	t.Helper()
	s, err := m.OpenBlob(context.Background(), sha)
	require.NoError(t, err, sha)
	defer s.Close()
	b, err := io.ReadAll(s)
	require.NoError(t, err)
	return b
}

func gridFSFiles(t testing.TB, m *mongostore.Store) int {
	n, err := m.Coll().Database().Collection("fs.files").CountDocuments(context.Background(), bson.D{})
	require.NoError(t, err)
	return int(n)
}

func requireSyncedEmails(t *testing.T, pool *pgxpool.Pool, n int) {
	testwait.Until(t, 90*time.Second, "emails synced", func() bool {
		return count(t, pool, `SELECT count(*) FROM incoming_emails WHERE sync_status = 'synced'`) == n
	})
}

// TestBlobsReachGridFSOnceAndWhole relays emails sharing an attachment:
// every blob is one GridFS file whose bytes read back through the driver's
// GridFS API are the bytes ingested, and each document names its raw blob.
func TestBlobsReachGridFSOnceAndWhole(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	m, _ := mongotest.NewStore(t)
	require.NoError(t, m.EnsureIndexes(context.Background()))
	r := relay.New(pool, m, fastConfig())
	svc := newIngest(pool, r)
	rawA, rawB, x, y := rawBlob(t, 600_000), rawBlob(t, 1000), randomBlob(t, 800_000), randomBlob(t, 0)
	_, err := svc.Ingest(context.Background(), "test", []ingest.Item{
		blobItem(1, rawA, x), blobItem(2, rawB, x), blobItem(3, y)})
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background()))
	defer func() { require.NoError(t, r.Stop(context.Background())) }()
	requireSyncedEmails(t, pool, 3)

	require.Equal(t, 4, gridFSFiles(t, m))
	for _, b := range []ingest.Blob{rawA, rawB, x, y} {
		require.True(t, bytes.Equal(b.Data, gridFSBytes(t, m, b.SHA256)), "blob %s", b.SHA256)
	}
	require.Equal(t, 0, count(t, pool, `SELECT count(*) FROM blobs WHERE synced_at IS NULL`))
	var doc bson.M
	require.NoError(t, m.Coll().FindOne(context.Background(), bson.D{{Key: "_id", Value: int64(1)}}).Decode(&doc))
	require.Equal(t, rawA.SHA256, doc["raw_sha256"])
}

// TestBlobRelayThroughMongoOutage stores blobs while MongoDB is down:
// nothing is marked synced, no attempt is burnt, and once MongoDB is back
// every blob lands whole.
func TestBlobRelayThroughMongoOutage(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	srv := mongotest.StartServer(t)
	m, _ := mongotest.StoreAt(t, srv.URL)
	require.NoError(t, m.EnsureIndexes(context.Background()))
	r := relay.New(pool, m, &relay.Config{Workers: 2, MaxRetries: 3})
	require.NoError(t, r.Start(context.Background()))
	defer func() { require.NoError(t, r.Stop(context.Background())) }()
	svc := newIngest(pool, r)

	srv.Stop()
	raw, att := rawBlob(t, 900_000), randomBlob(t, 700_000)
	_, err := svc.Ingest(context.Background(), "test", []ingest.Item{blobItem(1, raw, att), blobItem(2, att)})
	require.NoError(t, err)
	testwait.Until(t, 30*time.Second, "the relay to meet the outage", func() bool {
		return count(t, pool, `SELECT count(*) FROM outbox_messages WHERE error_message LIKE 'store unreachable%'`) > 0
	})
	require.Equal(t, 0, count(t, pool, `SELECT count(*) FROM blobs WHERE synced_at IS NOT NULL`))
	require.NoError(t, srv.Start())
	requireSyncedEmails(t, pool, 2)
	require.Equal(t, 0, count(t, pool, `SELECT count(*) FROM outbox_messages WHERE retry_count > 0`))
	require.Equal(t, raw.Data, gridFSBytes(t, m, raw.SHA256))
	require.Equal(t, att.Data, gridFSBytes(t, m, att.SHA256))
}

// TestHalfWrittenBlobIsNeverSynced cuts a relay off in the middle of a
// blob (as a SIGKILL would): the chunks written so far are not a blob
// MongoDB holds, nothing is marked synced, and the next relay completes
// the blob with the right bytes.
func TestHalfWrittenBlobIsNeverSynced(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	m, _ := mongotest.NewStore(t)
	require.NoError(t, m.EnsureIndexes(context.Background()))
	r := relay.New(pool, m, &relay.Config{Workers: 0, Lease: time.Second})
	svc := newIngest(pool, r)
	big := randomBlob(t, 6<<20)
	_, err := svc.Ingest(context.Background(), "test", []ingest.Item{blobItem(1, big)})
	require.NoError(t, err)

	chunks := func() int {
		n, err := m.Coll().Database().Collection("fs.chunks").CountDocuments(context.Background(), bson.D{})
		require.NoError(t, err)
		return int(n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = r.RunOnce(ctx, "doomed")
	}()
	testwait.Until(t, 60*time.Second, "the first chunks in MongoDB", func() bool { return chunks() > 0 })
	cancel()
	<-done
	require.Less(t, chunks(), 25, "the blob was cut off before its last chunk")
	has, err := m.HasBlob(context.Background(), big.SHA256, int64(len(big.Data)))
	require.NoError(t, err)
	require.False(t, has)
	require.Equal(t, 0, gridFSFiles(t, m), "no files document for a blob without all its chunks")
	require.Equal(t, 0, count(t, pool, `SELECT count(*) FROM blobs WHERE synced_at IS NOT NULL`))
	require.Equal(t, 0, count(t, pool, `SELECT count(*) FROM incoming_emails WHERE sync_status = 'synced'`))

	// The lease of the cut-off batch expires and another relay finishes.
	r2 := relay.New(pool, m, fastConfig())
	require.NoError(t, r2.Start(context.Background()))
	defer func() { require.NoError(t, r2.Stop(context.Background())) }()
	requireSyncedEmails(t, pool, 1)
	require.Equal(t, big.Data, gridFSBytes(t, m, big.SHA256))
	require.Equal(t, 25, chunks())
}
