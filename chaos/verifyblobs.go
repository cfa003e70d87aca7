package chaos

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"go.mongodb.org/mongo-driver/v2/bson"

	"mailsync/internal/mongostore"
)

// checkBlobs looks at the blobs of both stores after the drain: every email
// whose attachments were sent with their bytes references a blob for each;
// every referenced blob is in PostgreSQL, marked synced, and in GridFS whole
// with bytes of its SHA-256 (else it is lost); GridFS holds no blob twice
// and none PostgreSQL lacks.
func (s *StoreCounts) checkBlobs(ctx context.Context, conn *pgx.Conn, mongoURL, mongoDB string) error {
	rows, err := conn.Query(ctx, `SELECT e.id, a->>'sha256'
		FROM incoming_emails e, jsonb_array_elements(e.attachments) a
		WHERE e.erased_at IS NULL AND NOT EXISTS (
			SELECT 1 FROM email_blobs eb WHERE eb.email_id = e.id AND eb.sha256 = a->>'sha256')`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id int64
		var sha string
		if err := rows.Scan(&id, &sha); err != nil {
			return err
		}
		s.Lost++
		s.problem("LOST attachment: email %d has no stored bytes for attachment %s", id, sha)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	type blob struct {
		size   int64
		synced bool
	}
	pg := map[string]blob{}
	rows, err = conn.Query(ctx, `SELECT sha256, size_bytes, synced_at IS NOT NULL FROM blobs`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var sha string
		var b blob
		if err := rows.Scan(&sha, &b.size, &b.synced); err != nil {
			return err
		}
		pg[sha] = b
	}
	if err := rows.Err(); err != nil {
		return err
	}
	s.Blobs = len(pg)
	st, err := mongostore.Connect(ctx, mongoURL, mongoDB, 10*time.Second)
	if err != nil {
		return err
	}
	defer st.Close(context.Background())
	for sha, b := range pg {
		if !b.synced {
			s.problem("blob %s is not synced after the drain", sha)
		}
		got, n, err := st.BlobDigest(ctx, sha)
		if err != nil || got != sha || n != b.size {
			s.Lost++
			s.problem("LOST blob in MongoDB: %s (%d bytes) reads back as %s, %d bytes (%v)", sha, b.size, got, n, err)
		}
	}
	err = st.EachBlobFile(ctx, func(f mongostore.BlobFile) error {
		s.MongoBlobs++
		if _, ok := pg[f.SHA256]; !ok {
			s.problem("GridFS file %s has no PostgreSQL blob (orphan)", f.SHA256)
		}
		return nil
	})
	if err != nil {
		return err
	}
	dup, err := st.Coll().Database().Collection("fs.chunks").Aggregate(ctx, bson.A{
		bson.D{{Key: "$group", Value: bson.D{{Key: "_id", Value: bson.D{{Key: "f", Value: "$files_id"}, {Key: "n", Value: "$n"}}},
			{Key: "copies", Value: bson.D{{Key: "$sum", Value: 1}}}}}},
		bson.D{{Key: "$match", Value: bson.D{{Key: "copies", Value: bson.D{{Key: "$gt", Value: 1}}}}}},
	})
	if err != nil {
		return err
	}
	defer dup.Close(ctx)
	for dup.Next(ctx) {
		s.Doubled++
		s.problem("DOUBLED GridFS chunk: %s", dup.Current.String())
	}
	return dup.Err()
}
