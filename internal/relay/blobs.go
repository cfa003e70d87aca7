package relay

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"mailsync/internal/db"
	"mailsync/internal/mongostore"
)

// Blobs reach MongoDB with the emails that reference them: before a chunk's
// documents are written, every blob they reference that is not marked
// synced is streamed from PostgreSQL into GridFS (skipped when MongoDB holds
// it completely already) and only then marked synced, so a synced email's
// blobs are all in MongoDB and a blob half written never counts as synced.
// A blob deleted in PostgreSQL (erasure, orphan repair) leaves an outbox row
// of aggregate type "blob" that removes it from MongoDB.

// splitBlobRows separates the rows of blob deletions from the email rows.
func splitBlobRows(rows []db.OutboxMessage) (emails, blobs []db.OutboxMessage) {
	for _, m := range rows {
		if m.AggregateType == db.AggregateBlob {
			blobs = append(blobs, m)
		} else {
			emails = append(emails, m)
		}
	}
	return emails, blobs
}

// syncBlobs writes the blobs that docs reference and MongoDB may lack, and
// sets each document's raw_sha256.
func (b *batch) syncBlobs(ctx context.Context, docs []mongostore.Document) error {
	if len(docs) == 0 {
		return nil
	}
	ids := make([]int64, len(docs))
	for i, d := range docs {
		ids[i] = d.ID
	}
	raw, err := b.r.q.RawBlobsOf(ctx, ids)
	if err != nil {
		return fmt.Errorf("%w: %w", errLoad, err)
	}
	for i := range docs {
		docs[i].RawSHA256 = raw[docs[i].ID]
	}
	blobs, err := b.r.q.UnsyncedBlobsOf(ctx, ids)
	if err != nil {
		return fmt.Errorf("%w: %w", errLoad, err)
	}
	for _, bl := range blobs {
		if err := b.r.putBlob(ctx, bl); err != nil {
			return err
		}
	}
	return nil
}

// putBlob streams blob bl from PostgreSQL into MongoDB, chunk by chunk, and
// marks it synced once MongoDB holds every chunk.
func (r *Relay) putBlob(ctx context.Context, bl db.Blob) error {
	start := time.Now()
	wrote, err := r.mongo.PutBlob(ctx, bl.SHA256, bl.Size, r.q.OpenBlob(ctx, bl))
	if err != nil {
		return err
	}
	if err := r.q.MarkBlobSynced(ctx, bl.SHA256); err != nil {
		return fmt.Errorf("%w: %w", errLoad, err)
	}
	if wrote {
		slog.DebugContext(ctx, "relay: blob written", "sha256", bl.SHA256, "bytes", bl.Size, "took", time.Since(start))
	}
	return nil
}

// deleteBlobs removes from MongoDB the blobs the rows name, unless the
// blob was stored again in PostgreSQL since (then it stays), and records
// the rows processed. MongoDB being unreachable gives the rows back and
// pauses the relay; another error counts a failed attempt.
func (b *batch) deleteBlobs(rows []db.OutboxMessage) error {
	if len(rows) == 0 {
		return nil
	}
	wctx, cancel := context.WithDeadline(b.ctx, b.writeBy)
	defer cancel()
	done := make([]int64, 0, len(rows))
	for i, m := range rows {
		sha := db.ParseBlobDelete(m)
		if sha != "" {
			if err := b.deleteBlob(wctx, sha); err != nil {
				return b.blobsFailed(rows[i:], done, err)
			}
		}
		done = append(done, m.ID)
	}
	_, err := b.r.q.MarkOutboxProcessed(b.ctx, b.worker, done)
	return b.interruptedIf(err)
}

func (b *batch) deleteBlob(ctx context.Context, sha string) error {
	stored, err := b.r.q.BlobExists(ctx, sha)
	if err != nil || stored {
		return err
	}
	return b.r.mongo.DeleteBlob(ctx, sha)
}

// blobsFailed records the rows done so far and handles the failure of
// rest[0]: the rest go back on a MongoDB outage, or rest[0] counts a
// failed attempt (with backoff) and the others go back.
func (b *batch) blobsFailed(rest []db.OutboxMessage, done []int64, cause error) error {
	if _, err := b.r.q.MarkOutboxProcessed(b.ctx, b.worker, done); err != nil {
		return b.interruptedIf(err)
	}
	ids := make([]int64, 0, len(rest))
	for _, m := range rest {
		ids = append(ids, m.ID)
	}
	ctx, cancel := context.WithTimeout(b.parent, releaseTimeout)
	defer cancel()
	if mongostore.IsTransient(cause) {
		b.r.storeDown(cause)
		if err := b.r.q.ReleaseOutbox(ctx, b.worker, ids, "store unreachable: "+cause.Error()); err != nil {
			return err
		}
		return fmt.Errorf("%w: %w", errStoreDown, cause)
	}
	m := rest[0]
	m.ErrorMessage = ptr(cause.Error())
	if err := db.InTx(b.ctx, b.r.pool, func(q *db.Queries) error { return b.fail(q, []db.OutboxMessage{m}, false) }); err != nil {
		return err
	}
	return b.r.q.ReleaseOutbox(ctx, b.worker, ids[1:], "an earlier blob deletion of the batch failed")
}

// interruptedIf is interrupted for a non-nil error.
func (b *batch) interruptedIf(err error) error {
	if err == nil {
		return nil
	}
	return b.interrupted(err)
}
