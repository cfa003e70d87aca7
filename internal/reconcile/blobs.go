package reconcile

import (
	"context"
	"fmt"
	"time"

	"mailsync/internal/db"
	"mailsync/internal/mongostore"
)

// blobPage is how many PostgreSQL blobs one query reads.
const blobPage = 500

// blobs checks the blobs of both stores after the emails:
//
//   - every blob an email references that the relay marked synced must be
//     in MongoDB whole (files document of the right length, every chunk)
//     with bytes of the right SHA-256, else it is blob_missing, repaired by
//     marking it unsynced and re-syncing one email that references it (the
//     relay writes the blob again before the document); a copy with other
//     bytes is removed first, since the relay skips a blob MongoDB holds;
//   - a blob no email references, a GridFS file or chunks PostgreSQL holds
//     no blob for, and an upload older than the grace that no blob names
//     are blob_orphan, deleted by a repairing run (MongoDB's through the
//     outbox).
//
// Checking bytes reads every synced blob from MongoDB once per run.
func (w *walk) blobs(ctx context.Context) error {
	w.orphanBlobs = map[string]bool{}
	if err := w.pgBlobs(ctx); err != nil {
		return fmt.Errorf("reconcile blobs: %w", err)
	}
	if err := w.mongoBlobs(ctx); err != nil {
		return fmt.Errorf("reconcile blobs: %w", err)
	}
	before := time.Now().Add(-w.r.cfg.Grace)
	stale, err := w.r.q.CountStaleUploads(ctx, before)
	if err != nil {
		return fmt.Errorf("reconcile blobs: %w", err)
	}
	if stale > 0 {
		w.t.counts[blobOrphan] += stale
		if !w.dryRun {
			_, err := w.r.q.DeleteStaleChunks(ctx, before)
			w.accountBlob("delete leftover blob uploads", int(stale), err)
		}
	}
	return ctx.Err()
}

// pgBlobs walks PostgreSQL's blobs in sha256 order.
func (w *walk) pgBlobs(ctx context.Context) error {
	after := ""
	for {
		page, err := w.r.q.BlobsPage(ctx, after, blobPage)
		if err != nil {
			return err
		}
		for _, b := range page {
			w.t.checked++
			switch {
			case !b.Referenced:
				w.orphanBlobs[b.SHA256] = true
				w.t.addBlob(blobOrphan, b.SHA256)
				if !w.dryRun {
					w.deleteOrphanBlob(ctx, b.SHA256)
				}
			case b.SyncedAt != nil:
				if err := w.checkSynced(ctx, b.Blob); err != nil {
					return err
				}
			}
		}
		if len(page) < blobPage {
			return nil
		}
		after = page[len(page)-1].SHA256
	}
}

// checkSynced compares a synced blob with MongoDB's copy.
func (w *walk) checkSynced(ctx context.Context, b db.Blob) error {
	whole, err := w.r.mongo.HasBlob(ctx, b.SHA256, b.Size)
	if err != nil {
		return err
	}
	corrupt := false
	if whole {
		sum, n, err := w.r.mongo.BlobDigest(ctx, b.SHA256)
		if err != nil {
			return err
		}
		if sum == b.SHA256 && n == b.Size {
			return nil
		}
		corrupt = true
	}
	w.t.addBlob(blobMissing, b.SHA256)
	if w.dryRun {
		return nil
	}
	if corrupt { // whole but with other bytes: the relay would skip it
		if err := w.r.mongo.DeleteBlob(ctx, b.SHA256); err != nil {
			w.accountBlob("remove a corrupt blob copy", 1, err)
			return nil
		}
	}
	id, found, err := w.r.q.BlobReferrer(ctx, b.SHA256)
	if err == nil && found {
		w.t.sample(blobMissing, id)
		if _, err = w.r.q.MarkBlobUnsynced(ctx, b.SHA256); err == nil {
			_, err = w.r.q.EnqueueResync(ctx, []int64{id}, repairReason, w.r.cfg.MaxRetries)
			w.r.cfg.Wake()
		}
	}
	w.accountBlob("relay a missing blob again", 1, err)
	return nil
}

// deleteOrphanBlob deletes a PostgreSQL blob no email references (unless
// one does by the time it is locked), which enqueues its removal from
// MongoDB.
func (w *walk) deleteOrphanBlob(ctx context.Context, sha string) {
	err := db.InTx(ctx, w.r.pool, func(q *db.Queries) error {
		_, err := q.DeleteUnreferencedBlobs(ctx, []string{sha}, repairReason, w.r.cfg.MaxRetries)
		return err
	})
	if err == nil {
		w.r.cfg.Wake()
	}
	w.accountBlob("delete an unreferenced blob", 1, err)
}

// mongoBlobs finds GridFS files and chunks PostgreSQL holds no blob for.
func (w *walk) mongoBlobs(ctx context.Context) error {
	seen := map[string]bool{}
	err := w.r.mongo.EachBlobFile(ctx, func(f mongostore.BlobFile) error {
		w.t.checked++
		seen[f.SHA256] = true
		return w.checkMongoOnly(ctx, f.SHA256)
	})
	if err != nil {
		return err
	}
	owners, err := w.r.mongo.BlobChunkOwners(ctx)
	if err != nil {
		return err
	}
	for _, sha := range owners {
		if !seen[sha] {
			if err := w.checkMongoOnly(ctx, sha); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkMongoOnly reports blob sha as an orphan when PostgreSQL holds no
// blob of that name, and enqueues its removal in a repairing run.
func (w *walk) checkMongoOnly(ctx context.Context, sha string) error {
	if w.orphanBlobs[sha] {
		return nil // found orphaned in PostgreSQL: its removal is already enqueued
	}
	stored, err := w.r.q.BlobExists(ctx, sha)
	if err != nil || stored {
		return err
	}
	w.orphanBlobs[sha] = true
	w.t.addBlob(blobOrphan, sha)
	if !w.dryRun {
		err := w.r.q.EnqueueBlobDelete(ctx, sha, repairReason, w.r.cfg.MaxRetries)
		if err == nil {
			w.r.cfg.Wake()
		}
		w.accountBlob("enqueue removal of an orphan blob", 1, err)
	}
	return nil
}

// accountBlob counts a blob repair of tried records.
func (w *walk) accountBlob(what string, tried int, err error) {
	done := int64(tried)
	if err != nil {
		done = 0
	}
	w.account(what, tried, done, err)
}
