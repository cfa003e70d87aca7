package db

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"mailsync/internal/apperr"
	"mailsync/internal/db/gen"
)

// Blobs are content-addressed byte strings (raw messages and attachment
// bytes) stored once as rows of BlobChunkSize bytes: never a whole blob in
// one read or write.

// BlobChunkSize is the size of every chunk row of a blob but its last.
const BlobChunkSize = 256 << 10

// The kinds of reference an email holds to a blob.
const (
	BlobRaw        = "raw"        // the original message
	BlobAttachment = "attachment" // an attachment's bytes
	// BlobBody is a text_body, html_body or headers (JSON) too big for
	// the MongoDB document (email.Overflow).
	BlobBody = "body"
)

// Blob is a stored blob (a blobs row).
type Blob struct {
	ID       int64
	SHA256   string // lowercase hex SHA-256 of the bytes: the blob's name
	Size     int64
	ChunksID int64
	// SyncedAt is when every chunk reached MongoDB; nil until then.
	SyncedAt *time.Time
}

func blobFromRow(r gen.Blob) Blob {
	return Blob{ID: r.ID, SHA256: r.Sha256, Size: r.SizeBytes, ChunksID: r.ChunksID, SyncedAt: r.SyncedAt}
}

func blobsFromRows(rows []gen.Blob) []Blob {
	out := make([]Blob, len(rows))
	for i, r := range rows {
		out[i] = blobFromRow(r)
	}
	return out
}

// WriteBlobChunks reads r to its end into chunk rows under a fresh chunks
// id, one statement per chunk (q must run on a pool or connection: a
// transaction would hold the whole blob in its WAL until commit, which is
// harmless, but an abort would waste it), and returns the chunks id, the
// byte count and the lowercase hex SHA-256 of the bytes. The chunks belong
// to no blob until ClaimBlobs names them; on error the chunks written so
// far stay until DeleteBlobChunks or DeleteStaleChunks removes them.
func (q *Queries) WriteBlobChunks(ctx context.Context, r io.Reader) (chunksID, size int64, sum string, err error) {
	chunksID, err = q.g.NextBlobChunksID(ctx)
	if err != nil {
		return 0, 0, "", wrap("next blob chunks id", err)
	}
	h := sha256.New()
	buf := make([]byte, BlobChunkSize)
	for n := int32(0); ; n++ {
		k, rerr := io.ReadFull(r, buf)
		if k > 0 || n == 0 {
			h.Write(buf[:k])
			size += int64(k)
			if err := q.g.InsertBlobChunk(ctx, gen.InsertBlobChunkParams{ChunksID: chunksID, N: n, Data: buf[:k]}); err != nil {
				return chunksID, size, "", wrap("insert blob chunk", err)
			}
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			return chunksID, size, hex.EncodeToString(h.Sum(nil)), nil
		}
		if rerr != nil {
			return chunksID, size, "", rerr
		}
	}
}

// DeleteBlobChunks removes the chunks written under the given chunks ids
// (uploads that no blob uses) and returns how many chunk rows it removed.
func (q *Queries) DeleteBlobChunks(ctx context.Context, chunksIDs []int64) (int64, error) {
	if len(chunksIDs) == 0 {
		return 0, nil
	}
	n, err := q.g.DeleteBlobChunks(ctx, chunksIDs)
	return n, wrap("delete blob chunks", err)
}

// DeleteStaleChunks removes chunks no blob names that were written before
// before (uploads whose email was never stored) and returns the rows removed.
func (q *Queries) DeleteStaleChunks(ctx context.Context, before time.Time) (int64, error) {
	n, err := q.g.DeleteStaleChunks(ctx, before)
	return n, wrap("delete stale blob chunks", err)
}

// ExistingBlobs returns the set of shas that are stored blobs.
func (q *Queries) ExistingBlobs(ctx context.Context, shas []string) (map[string]bool, error) {
	rows, err := q.g.ExistingBlobs(ctx, shas)
	if err != nil {
		return nil, wrap("existing blobs", err)
	}
	out := make(map[string]bool, len(rows))
	for _, s := range rows {
		out[s] = true
	}
	return out, nil
}

// BlobClaim names a blob for ClaimBlobs. ChunksID is the upload holding its
// bytes, or nil when the caller saw the blob stored and uploaded nothing.
type BlobClaim struct {
	SHA256   string
	Size     int64
	ChunksID *int64
}

// ErrBlobGone is returned (wrapped) by ClaimBlobs when a blob claimed
// without an upload does not exist (an erasure deleted it after the caller
// looked): the transaction is aborted, and the caller uploads and retries.
var ErrBlobGone = errors.New("a blob referenced without an upload is no longer stored")

// ClaimBlobs records each blob in claims (sorted by sha256 and unique, so
// concurrent transactions lock them in one order) and returns, per claim,
// whether this transaction created it with the claim's chunks. A blob that
// exists already is locked until the transaction ends, so no erasure can
// delete it before the caller's references commit.
func (q *Queries) ClaimBlobs(ctx context.Context, claims []BlobClaim) ([]bool, error) {
	params := make([]gen.ClaimBlobParams, len(claims))
	for i, c := range claims {
		params[i] = gen.ClaimBlobParams{Sha256: c.SHA256, SizeBytes: c.Size, ChunksID: c.ChunksID}
	}
	created := make([]bool, len(claims))
	var firstErr error
	q.g.ClaimBlob(ctx, params).QueryRow(func(i int, _ int64, err error) {
		switch {
		case err == nil:
			created[i] = true
		case errors.Is(err, pgx.ErrNoRows):
		case firstErr == nil:
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == "23502" {
				err = fmt.Errorf("blob %s: %w", claims[i].SHA256, ErrBlobGone)
			}
			firstErr = err
		}
	})
	return created, wrap("claim blob", firstErr)
}

// BlobRef is one reference of an email to a blob.
type BlobRef struct {
	EmailID int64
	SHA256  string
	Kind    string // BlobRaw or BlobAttachment
}

// InsertBlobRefs records refs (an existing reference is kept as it is).
func (q *Queries) InsertBlobRefs(ctx context.Context, refs []BlobRef) error {
	if len(refs) == 0 {
		return nil
	}
	p := gen.InsertEmailBlobsParams{}
	for _, r := range refs {
		p.EmailIds = append(p.EmailIds, r.EmailID)
		p.Shas = append(p.Shas, r.SHA256)
		p.Kinds = append(p.Kinds, r.Kind)
	}
	return wrap("insert email blobs", q.g.InsertEmailBlobs(ctx, p))
}

// GetBlob returns blob sha, or an apperr NotFound.
func (q *Queries) GetBlob(ctx context.Context, sha string) (Blob, error) {
	row, err := q.g.GetBlob(ctx, sha)
	if err != nil {
		return Blob{}, found("get blob", err, "blob", sha)
	}
	return blobFromRow(row), nil
}

// EmailBlob is a blob an email references, with the kind of reference.
type EmailBlob struct {
	Kind string
	Blob
}

// EmailBlobs returns the blobs email id references (none for an email
// without blobs or an unknown id).
func (q *Queries) EmailBlobs(ctx context.Context, id int64) ([]EmailBlob, error) {
	rows, err := q.g.EmailBlobs(ctx, id)
	if err != nil {
		return nil, wrap("email blobs", err)
	}
	out := make([]EmailBlob, len(rows))
	for i, r := range rows {
		out[i] = EmailBlob{Kind: r.Kind, Blob: Blob{ID: r.ID, SHA256: r.Sha256, Size: r.SizeBytes,
			ChunksID: r.ChunksID, SyncedAt: r.SyncedAt}}
	}
	return out, nil
}

// OpenBlob returns a reader of blob b's bytes that reads one chunk row at a
// time with q (a pool: each chunk is its own statement). Reading fails with
// an error when a chunk is missing or of the wrong length (the blob was
// deleted while it was read), never with short data passed off as whole.
func (q *Queries) OpenBlob(ctx context.Context, b Blob) io.Reader {
	return &blobReader{ctx: ctx, q: q, b: b}
}

type blobReader struct {
	ctx  context.Context
	q    *Queries
	b    Blob
	n    int32
	read int64
	cur  []byte
}

func (r *blobReader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.read >= r.b.Size {
			return 0, io.EOF
		}
		data, err := r.q.g.ReadBlobChunk(r.ctx, gen.ReadBlobChunkParams{ChunksID: r.b.ChunksID, N: r.n})
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, apperr.New(apperr.NotFound, "blob %s: chunk %d is missing", r.b.SHA256, r.n)
		}
		if err != nil {
			return 0, wrap("read blob chunk", err)
		}
		want := min(int64(BlobChunkSize), r.b.Size-r.read)
		if int64(len(data)) != want {
			return 0, fmt.Errorf("blob %s: chunk %d holds %d bytes, want %d", r.b.SHA256, r.n, len(data), want)
		}
		r.cur, r.n = data, r.n+1
		r.read += int64(len(data))
	}
	k := copy(p, r.cur)
	r.cur = r.cur[k:]
	return k, nil
}

// UnsyncedBlobsOf returns the blobs that the emails in ids reference and
// that are not in MongoDB yet, in sha256 order.
func (q *Queries) UnsyncedBlobsOf(ctx context.Context, ids []int64) ([]Blob, error) {
	rows, err := q.g.UnsyncedBlobsOf(ctx, ids)
	if err != nil {
		return nil, wrap("unsynced blobs of emails", err)
	}
	return blobsFromRows(rows), nil
}

// RawBlobsOf maps each email in ids that has a raw message to its sha256.
func (q *Queries) RawBlobsOf(ctx context.Context, ids []int64) (map[int64]string, error) {
	rows, err := q.g.RawBlobsOf(ctx, ids)
	if err != nil {
		return nil, wrap("raw blobs of emails", err)
	}
	out := make(map[int64]string, len(rows))
	for _, r := range rows {
		out[r.EmailID] = r.Sha256
	}
	return out, nil
}

// MarkBlobSynced records that every chunk of blob sha is in MongoDB.
func (q *Queries) MarkBlobSynced(ctx context.Context, sha string) error {
	return wrap("mark blob synced", q.g.MarkBlobSynced(ctx, sha))
}

// MarkBlobUnsynced records that MongoDB lacks blob sha, so the next relay
// of an email referencing it uploads it again; it reports whether the
// blob was marked synced before.
func (q *Queries) MarkBlobUnsynced(ctx context.Context, sha string) (bool, error) {
	n, err := q.g.MarkBlobUnsynced(ctx, sha)
	return n > 0, wrap("mark blob unsynced", err)
}

// BlobExists reports whether blob sha is stored.
func (q *Queries) BlobExists(ctx context.Context, sha string) (bool, error) {
	ok, err := q.g.BlobExists(ctx, sha)
	return ok, wrap("blob exists", err)
}
