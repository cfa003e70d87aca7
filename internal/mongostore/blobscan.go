package mongostore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// BlobFile is one GridFS files document as reconciliation sees it.
type BlobFile struct {
	SHA256 string // the _id
	Length int64
}

// EachBlobFile calls fn for every files document of the blob bucket, in _id
// order, reading them through a cursor (bounded memory). It stops at fn's
// first error and returns it.
func (s *Store) EachBlobFile(ctx context.Context, fn func(BlobFile) error) error {
	cur, err := s.files().Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).
		SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "length", Value: 1}}))
	if err != nil {
		return fmt.Errorf("mongodb list blob files: %w", err)
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		var f struct {
			ID     any   `bson:"_id"`
			Length int64 `bson:"length"`
		}
		if err := cur.Decode(&f); err != nil {
			return fmt.Errorf("mongodb decode blob file: %w", err)
		}
		id, ok := f.ID.(string)
		if !ok {
			continue // a GridFS file mailsync did not write (ObjectId _id)
		}
		if err := fn(BlobFile{SHA256: id, Length: f.Length}); err != nil {
			return err
		}
	}
	return cur.Err()
}

// BlobChunkOwners returns the distinct files_id of the blob chunks that
// are strings (the blobs mailsync wrote, whole or in part).
func (s *Store) BlobChunkOwners(ctx context.Context) ([]string, error) {
	cur, err := s.chunks().Aggregate(ctx, bson.A{bson.D{{Key: "$group", Value: bson.D{{Key: "_id", Value: "$files_id"}}}}})
	if err != nil {
		return nil, fmt.Errorf("mongodb group blob chunks: %w", err)
	}
	defer cur.Close(ctx)
	var out []string
	for cur.Next(ctx) {
		var g struct {
			ID any `bson:"_id"`
		}
		if err := cur.Decode(&g); err != nil {
			return nil, fmt.Errorf("mongodb decode blob chunk owner: %w", err)
		}
		if s, ok := g.ID.(string); ok {
			out = append(out, s)
		}
	}
	return out, cur.Err()
}

// BlobDigest reads blob sha through the GridFS API and returns the hex
// SHA-256 and length of its bytes, one chunk in memory at a time.
func (s *Store) BlobDigest(ctx context.Context, sha string) (string, int64, error) {
	ds, err := s.OpenBlob(ctx, sha)
	if err != nil {
		return "", 0, fmt.Errorf("mongodb open blob %s: %w", sha, err)
	}
	defer ds.Close()
	h := sha256.New()
	n, err := io.Copy(h, ds)
	if err != nil {
		return "", 0, fmt.Errorf("mongodb read blob %s: %w", sha, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
