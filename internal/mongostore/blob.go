package mongostore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Blobs live in MongoDB in the GridFS layout of bucket BlobBucket: one
// <bucket>.files document per blob with _id and filename set to the blob's
// lowercase hex SHA-256 (and metadata.sha256 too), and its bytes in
// <bucket>.chunks documents {files_id, n, data} of BlobChunkSize bytes, so
// any GridFS reader (mongofiles, the drivers' GridFS API) reads them.
//
// They are written with plain inserts, one chunk per insert, rather than
// with the driver's GridFS upload stream, which buffers 16 MiB per upload.
// A chunk's content is fixed by the blob's name and its n, so writing is
// idempotent: a chunk or files document that exists already (duplicate
// key on the unique (files_id, n) index or on _id) is left as it is, and
// writers of the same blob in several relays never undo each other's work.
// The files document is inserted after the last chunk; a blob counts as
// present only when the files document has the right length and every
// chunk is there.

// BlobBucket is the GridFS bucket of blobs.
const BlobBucket = "fs"

// BlobChunkSize is the GridFS chunk size of blobs (the GridFS default).
const BlobChunkSize = 255 * 1024

// ErrBlobCorrupt means bytes read to write a blob do not match its name
// or size: nothing is recorded as written.
var ErrBlobCorrupt = errors.New("blob bytes do not match the blob's name")

type blobFile struct {
	ID         string    `bson:"_id"`
	Length     int64     `bson:"length"`
	ChunkSize  int32     `bson:"chunkSize"`
	UploadDate time.Time `bson:"uploadDate"`
	Filename   string    `bson:"filename"`
	Metadata   bson.D    `bson:"metadata"`
}

type blobChunk struct {
	FilesID string `bson:"files_id"`
	N       int32  `bson:"n"`
	Data    []byte `bson:"data"`
}

func (s *Store) files() *mongo.Collection {
	return s.coll.Database().Collection(BlobBucket + ".files")
}

func (s *Store) chunks() *mongo.Collection {
	return s.coll.Database().Collection(BlobBucket + ".chunks")
}

// EnsureBlobIndexes creates the indexes GridFS readers and writers expect
// (idempotent, one index per command).
func (s *Store) EnsureBlobIndexes(ctx context.Context) error {
	for _, ix := range []struct {
		c *mongo.Collection
		m mongo.IndexModel
	}{
		{s.chunks(), mongo.IndexModel{Keys: bson.D{{Key: "files_id", Value: 1}, {Key: "n", Value: 1}},
			Options: options.Index().SetUnique(true)}},
		{s.files(), mongo.IndexModel{Keys: bson.D{{Key: "filename", Value: 1}, {Key: "uploadDate", Value: 1}}}},
	} {
		if _, err := ix.c.Indexes().CreateOne(ctx, ix.m); err != nil {
			return fmt.Errorf("mongodb create blob index %v: %w", ix.m.Keys, err)
		}
	}
	return nil
}

// blobChunks is the number of GridFS chunks of a blob of size bytes.
func blobChunks(size int64) int64 { return (size + BlobChunkSize - 1) / BlobChunkSize }

// HasBlob reports whether blob sha of size bytes is completely in MongoDB:
// its files document has that length and all its chunks exist. A files
// document without all its chunks counts as missing.
func (s *Store) HasBlob(ctx context.Context, sha string, size int64) (bool, error) {
	var f blobFile
	err := s.files().FindOne(ctx, bson.D{{Key: "_id", Value: sha}}).Decode(&f)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("mongodb find blob %s: %w", sha, err)
	}
	if f.Length != size || f.ChunkSize != BlobChunkSize {
		return false, nil
	}
	n, err := s.chunks().CountDocuments(ctx, bson.D{{Key: "files_id", Value: sha}})
	if err != nil {
		return false, fmt.Errorf("mongodb count blob %s chunks: %w", sha, err)
	}
	return n == blobChunks(size), nil
}

// PutBlob writes blob sha of size bytes, read from r, unless MongoDB holds
// it completely already; it reports whether it wrote anything. It checks
// while writing that the bytes hash to sha (ErrBlobCorrupt otherwise) and,
// at the end, that every chunk is present. A files document of the wrong
// length or chunk size is replaced. Errors of MongoDB are returned as they
// are (see IsTransient); a chunk written before an error stays and is
// reused by the next attempt.
func (s *Store) PutBlob(ctx context.Context, sha string, size int64, r io.Reader) (bool, error) {
	if ok, err := s.HasBlob(ctx, sha, size); err != nil || ok {
		return false, err
	}
	if _, err := s.files().DeleteOne(ctx, bson.D{{Key: "_id", Value: sha},
		{Key: "$or", Value: bson.A{bson.D{{Key: "length", Value: bson.D{{Key: "$ne", Value: size}}}},
			bson.D{{Key: "chunkSize", Value: bson.D{{Key: "$ne", Value: BlobChunkSize}}}}}}}); err != nil {
		return false, fmt.Errorf("mongodb delete bad blob file %s: %w", sha, err)
	}
	have, err := s.chunksPresent(ctx, sha)
	if err != nil {
		return false, err
	}
	h := sha256.New()
	buf := make([]byte, BlobChunkSize)
	var total int64
	for n := int32(0); int64(n) < blobChunks(size); n++ {
		k, err := io.ReadFull(r, buf[:min(int64(BlobChunkSize), size-total)])
		if err != nil {
			return true, fmt.Errorf("read blob %s: %w", sha, err)
		}
		h.Write(buf[:k])
		total += int64(k)
		if have[n] {
			continue // written by an earlier attempt
		}
		_, err = s.chunks().InsertOne(ctx, blobChunk{FilesID: sha, N: n, Data: buf[:k]})
		if err != nil && !mongo.IsDuplicateKeyError(err) {
			return true, fmt.Errorf("mongodb insert blob %s chunk %d: %w", sha, n, err)
		}
	}
	if hex.EncodeToString(h.Sum(nil)) != sha {
		return true, fmt.Errorf("blob %s: %w", sha, ErrBlobCorrupt)
	}
	f := blobFile{ID: sha, Length: size, ChunkSize: BlobChunkSize, UploadDate: time.Now().UTC(), Filename: sha,
		Metadata: bson.D{{Key: "sha256", Value: sha}}}
	if _, err := s.files().InsertOne(ctx, f); err != nil && !mongo.IsDuplicateKeyError(err) {
		return true, fmt.Errorf("mongodb insert blob file %s: %w", sha, err)
	}
	ok, err := s.HasBlob(ctx, sha, size)
	if err == nil && !ok {
		err = fmt.Errorf("mongodb blob %s: chunks missing after the write", sha)
	}
	return true, err
}

// chunksPresent returns the n of every chunk of blob sha in MongoDB.
func (s *Store) chunksPresent(ctx context.Context, sha string) (map[int32]bool, error) {
	cur, err := s.chunks().Find(ctx, bson.D{{Key: "files_id", Value: sha}},
		options.Find().SetProjection(bson.D{{Key: "n", Value: 1}, {Key: "_id", Value: 0}}))
	if err != nil {
		return nil, fmt.Errorf("mongodb find blob %s chunks: %w", sha, err)
	}
	var rows []struct {
		N int32 `bson:"n"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, fmt.Errorf("mongodb read blob %s chunks: %w", sha, err)
	}
	out := make(map[int32]bool, len(rows))
	for _, r := range rows {
		out[r.N] = true
	}
	return out, nil
}

// DeleteBlob removes blob sha: its files document first (so a blob half
// deleted counts as missing), then its chunks.
func (s *Store) DeleteBlob(ctx context.Context, sha string) error {
	if _, err := s.files().DeleteOne(ctx, bson.D{{Key: "_id", Value: sha}}); err != nil {
		return fmt.Errorf("mongodb delete blob file %s: %w", sha, err)
	}
	if _, err := s.chunks().DeleteMany(ctx, bson.D{{Key: "files_id", Value: sha}}); err != nil {
		return fmt.Errorf("mongodb delete blob %s chunks: %w", sha, err)
	}
	return nil
}

// OpenBlob opens blob sha with the driver's GridFS API (what any GridFS
// reader sees). Errors: mongo.ErrFileNotFound when there is no such file.
func (s *Store) OpenBlob(ctx context.Context, sha string) (*mongo.GridFSDownloadStream, error) {
	return s.coll.Database().GridFSBucket(options.GridFSBucket().SetName(BlobBucket)).OpenDownloadStream(ctx, sha)
}
