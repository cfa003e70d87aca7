// Package blob serves the bytes mailsync keeps besides an email's fields:
// the original raw message and the attachments' bytes. Blobs are named by
// the lowercase hex SHA-256 of their bytes and stored once however many
// emails reference them; PostgreSQL holds them as chunk rows and the relay
// copies them to MongoDB's GridFS.
package blob

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"io"

	"github.com/jackc/pgx/v5/pgxpool"

	"mailsync/internal/apperr"
	"mailsync/internal/db"
	"mailsync/internal/email"
)

// Reader reads blobs from PostgreSQL.
type Reader struct{ q *db.Queries }

// NewReader returns a Reader on pool.
func NewReader(pool *pgxpool.Pool) *Reader { return &Reader{q: db.New(pool)} }

// Open is a blob ready to stream: Body reads its bytes one chunk at a time.
type Open struct {
	SHA256 string
	Size   int64
	Body   io.Reader
}

// ReprDigest is the RFC 9530 Repr-Digest field value of the blob's bytes.
func (o Open) ReprDigest() string { return ReprDigest(o.SHA256) }

// ReprDigest formats a lowercase hex SHA-256 as an RFC 9530 Repr-Digest
// value: sha-256=:<base64 of the digest>:.
func ReprDigest(sha string) string {
	b, _ := hex.DecodeString(sha)
	return "sha-256=:" + base64.StdEncoding.EncodeToString(b) + ":"
}

// Raw opens the original message of email e. Errors: apperr NotFound when
// e came as JSON (it has no raw form).
func (r *Reader) Raw(ctx context.Context, e email.Stored) (Open, error) {
	blobs, err := r.q.EmailBlobs(ctx, e.ID)
	if err != nil {
		return Open{}, err
	}
	for _, b := range blobs {
		if b.Kind == db.BlobRaw {
			return r.open(ctx, b.Blob), nil
		}
	}
	return Open{}, apperr.New(apperr.NotFound,
		"email %d has no raw form: it was ingested as JSON, not as a message/rfc822 message", e.ID)
}

// Attachment opens the bytes of attachment index of email e. Errors:
// apperr NotFound when there is no such attachment or it was sent as
// metadata only.
func (r *Reader) Attachment(ctx context.Context, e email.Stored, index int) (Open, error) {
	if index < 0 || index >= len(e.Attachments) {
		return Open{}, apperr.New(apperr.NotFound, "email %d has %d attachment(s); there is no attachment %d",
			e.ID, len(e.Attachments), index)
	}
	sha := e.Attachments[index].SHA256
	blobs, err := r.q.EmailBlobs(ctx, e.ID)
	if err != nil {
		return Open{}, err
	}
	for _, b := range blobs {
		if b.Kind == db.BlobAttachment && b.SHA256 == sha {
			return r.open(ctx, b.Blob), nil
		}
	}
	return Open{}, apperr.New(apperr.NotFound,
		"attachment %d of email %d has no stored bytes: it was sent as metadata only (JSON without content)",
		index, e.ID)
}

func (r *Reader) open(ctx context.Context, b db.Blob) Open {
	return Open{SHA256: b.SHA256, Size: b.Size, Body: r.q.OpenBlob(ctx, b)}
}
