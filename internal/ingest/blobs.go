package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"slices"

	"mailsync/internal/apperr"
	"mailsync/internal/db"
	"mailsync/internal/email"
)

// Blob is bytes an email keeps besides its fields: the original message
// (db.BlobRaw) or an attachment's bytes (db.BlobAttachment). The bytes are
// written to chunk rows before the email's transaction (Stage), and the
// transaction records the blob and the email's reference to it, so an
// email is never stored without its blobs.
type Blob struct {
	Kind   string // db.BlobRaw or db.BlobAttachment
	SHA256 string // lowercase hex SHA-256 of Data
	Data   []byte
	// Src, when it decodes on demand, holds the bytes instead of Data.
	Src Bytes

	chunks *int64 // the upload of Data; nil while not uploaded
	used   bool   // the last transaction created the blob with chunks
}

// stage uploads the blobs of items that are not stored yet (all of them
// when force is set), one chunk row at a time, outside any transaction.
// A blob already stored is not uploaded again.
func (s *Service) stage(ctx context.Context, items []*Item, force bool) error {
	var shas []string
	for _, it := range items {
		addOverflow(it)
		for _, b := range it.Blobs {
			shas = append(shas, b.SHA256)
		}
	}
	if len(shas) == 0 {
		return nil
	}
	q := db.New(s.pool)
	stored := map[string]bool{}
	if !force {
		var err error
		if stored, err = q.ExistingBlobs(ctx, shas); err != nil {
			return err
		}
	}
	uploaded := map[string]*int64{} // one upload per blob per call
	for _, it := range items {
		for i := range it.Blobs {
			b := &it.Blobs[i]
			if b.chunks != nil || stored[b.SHA256] {
				continue
			}
			if id, ok := uploaded[b.SHA256]; ok {
				b.chunks = id
				continue
			}
			id, _, _, err := q.WriteBlobChunks(ctx, b.reader())
			b.chunks = &id // written chunks are deleted by release even after an error
			if err != nil {
				return err
			}
			uploaded[b.SHA256] = &id
		}
	}
	return nil
}

// release deletes the uploads of items that no blob took (the blob existed
// already, another request created it first, or nothing was stored). A
// failure only leaves chunks behind for DeleteStaleChunks.
func (s *Service) release(items []*Item) {
	seen := map[int64]bool{}
	used := map[int64]bool{}
	for _, it := range items {
		for _, b := range it.Blobs {
			if b.chunks != nil {
				seen[*b.chunks] = true
				if b.used {
					used[*b.chunks] = true
				}
			}
		}
	}
	var ids []int64
	for id := range seen {
		if !used[id] {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.GroupTimeout)
	defer cancel()
	if _, err := db.New(s.pool).DeleteBlobChunks(ctx, ids); err != nil {
		slog.Warn("ingest: could not delete unused blob uploads; the cleaner removes them later", "err", err)
	}
}

// claimBlobs records, in the write transaction, the blobs of the emails
// stored (stored[i] non-nil for jobs[i]) and their references.
func claimBlobs(ctx context.Context, q *db.Queries, jobs []job, stored []*int64) error {
	best := map[string]*Blob{} // per sha256: a blob with an upload if there is one
	var refs []db.BlobRef
	for i, jb := range jobs {
		for k := range jb.item.Blobs {
			b := &jb.item.Blobs[k]
			b.used = false
			if stored[i] == nil {
				continue
			}
			if cur, ok := best[b.SHA256]; !ok || (cur.chunks == nil && b.chunks != nil) {
				best[b.SHA256] = b
			}
			refs = append(refs, db.BlobRef{EmailID: *stored[i], SHA256: b.SHA256, Kind: b.Kind})
		}
	}
	if len(best) == 0 {
		return nil
	}
	shas := make([]string, 0, len(best))
	for sha := range best {
		shas = append(shas, sha)
	}
	slices.Sort(shas)
	claims := make([]db.BlobClaim, len(shas))
	for i, sha := range shas {
		b := best[sha]
		claims[i] = db.BlobClaim{SHA256: sha, Size: b.size(), ChunksID: b.chunks}
	}
	created, err := q.ClaimBlobs(ctx, claims)
	if err != nil {
		return err
	}
	for i, sha := range shas {
		if created[i] {
			best[sha].used = true
			for _, jb := range jobs { // every blob sharing the upload counts as used
				for k := range jb.item.Blobs {
					if b := &jb.item.Blobs[k]; b.chunks != nil && best[sha].chunks != nil && *b.chunks == *best[sha].chunks {
						b.used = true
					}
				}
			}
		}
	}
	return q.InsertBlobRefs(ctx, refs)
}

// isBlobGone reports the error of a transaction that referenced a blob
// without uploading it after an erasure had deleted it.
func isBlobGone(err error) bool { return errors.Is(err, db.ErrBlobGone) }

// itemsOf returns pointers to the items of jobs.
func itemsOf(jobs []job) []*Item {
	out := make([]*Item, len(jobs))
	for i := range jobs {
		out[i] = jobs[i].item
	}
	return out
}

// storedIDs returns the id of each stored email, nil where none was stored.
func storedIDs(stored []*email.Stored) []*int64 {
	out := make([]*int64, len(stored))
	for i, e := range stored {
		if e != nil {
			out[i] = &e.ID
		}
	}
	return out
}

// stageFailed maps a failed upload to the error the client sees.
func (s *Service) stageFailed(err error) error {
	if db.IsUnavailable(err) {
		return apperr.New(apperr.Unavailable, "the database is unavailable; retry later with the same Idempotency-Key")
	}
	return err
}

// The kinds of blob an email keeps.
const (
	BlobRaw        = db.BlobRaw
	BlobAttachment = db.BlobAttachment
	BlobBody       = db.BlobBody
)

// addOverflow adds to it the blobs of the fields of its content that are
// too big for the MongoDB document (email.Overflow), once.
func addOverflow(it *Item) {
	if it.overflowAdded {
		return
	}
	it.overflowAdded = true
	for _, o := range it.Content.Overflow() {
		it.Blobs = append(it.Blobs, Blob{Kind: BlobBody, SHA256: o.SHA256, Data: o.Data})
	}
}

// RawBlobs returns the blobs of raw message raw parsed into m: the message
// itself and each attachment's bytes.
func RawBlobs(raw []byte, m RawMessage) []Blob {
	sum := sha256.Sum256(raw)
	out := []Blob{{Kind: BlobRaw, SHA256: hex.EncodeToString(sum[:]), Data: raw}}
	for i, x := range m.Parts {
		if i < len(m.Content.Attachments) {
			b := Blob{Kind: BlobAttachment, SHA256: m.Content.Attachments[i].SHA256, Data: x.data}
			if x.b64 != nil {
				b.Data, b.Src = nil, x
			}
			out = append(out, b)
		}
	}
	return out
}

// size is the number of bytes of b.
func (b *Blob) size() int64 {
	if b.Src.b64 != nil {
		return b.Src.Len()
	}
	return int64(len(b.Data))
}

// reader reads the bytes of b.
func (b *Blob) reader() io.Reader {
	if b.Src.b64 != nil {
		return b.Src.Reader()
	}
	return bytes.NewReader(b.Data)
}
