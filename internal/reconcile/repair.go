package reconcile

import (
	"context"
	"fmt"
	"log/slog"

	"mailsync/internal/db"
	"mailsync/internal/email"
)

// repairReason is the outbox payload reason of every message a repair enqueues.
const repairReason = "repair"

// findings are one range's mismatches.
type findings struct {
	missing  []int64
	mismatch []int64
	orphans  []int64
	ahead    []int64 // reported only: no repair can lower a document's version
	drift    []db.EmailVersion
	erased   []int64 // erased emails whose document is still there
}

// missingOrInFlight classifies an email without a document.
func (f *findings) missingOrInFlight(e db.RangeEmail) {
	if !e.InFlight && e.SyncStatus != email.StatusNotApplicable && !e.Erased { // a tombstone has no document
		f.missing = append(f.missing, e.ID)
	}
}

// both classifies an email that has a document.
func (f *findings) both(e db.RangeEmail, d docSum) {
	switch {
	case e.SyncStatus == email.StatusNotApplicable:
	case d.version > e.Version && !e.Erased: // never legitimate, in flight or not: versions only grow
		f.ahead = append(f.ahead, e.ID)
	case e.Erased && !e.InFlight:
		f.erased = append(f.erased, e.ID)
	case e.InFlight || e.Erased:
	case e.Version != d.version || e.ContentHash != d.hash:
		f.mismatch = append(f.mismatch, e.ID)
	case e.SyncStatus != email.StatusSynced:
		f.drift = append(f.drift, db.EmailVersion{ID: e.ID, Version: e.Version, ContentHash: e.ContentHash})
	}
}

// settle confirms orphan candidates, records the findings and repairs them.
func (w *walk) settle(ctx context.Context, f *findings) error {
	if len(f.orphans) > 0 {
		confirmed, err := w.r.q.ConfirmOrphans(ctx, f.orphans, w.r.cfg.Grace)
		if err != nil {
			return err
		}
		f.orphans = confirmed
	}
	w.t.add(missingInMongo, f.missing)
	w.t.add(contentMismatch, f.mismatch)
	w.t.add(orphanInMongo, f.orphans)
	drifted := make([]int64, len(f.drift))
	for i, e := range f.drift {
		drifted[i] = e.ID
	}
	w.t.add(statusDrift, drifted)
	w.t.add(erasedButPresent, f.erased)
	w.t.add(aheadOfPostgres, f.ahead)
	if len(f.ahead) > 0 {
		slog.Warn("reconciliation: MongoDB documents ahead of PostgreSQL (not repairable by a re-sync)",
			"documents", len(f.ahead), "first", f.ahead[0])
	}
	if w.dryRun {
		return nil
	}
	return w.repair(ctx, f)
}

// repair fixes one range's findings through the normal paths: a missing or
// different document gets a re-sync enqueued (the relay writes the email's
// current state), a drifted status is corrected while the content is still
// the one compared, and, only with RemoveOrphans, an orphan gets an outbox
// 'delete' message for the relay. A repair that fails is counted and logged
// and the run goes on; only the run's own cancellation stops it.
func (w *walk) repair(ctx context.Context, f *findings) error {
	cfg := w.r.cfg
	enqueued := false
	if n := len(f.missing) + len(f.mismatch); n > 0 {
		ids := make([]int64, 0, n)
		ids = append(append(ids, f.missing...), f.mismatch...)
		got, err := w.r.q.EnqueueResync(ctx, ids, repairReason, cfg.MaxRetries)
		w.account("enqueue re-sync", len(ids), got, err)
		enqueued = enqueued || got > 0
	}
	if n := len(f.drift); n > 0 {
		got, err := w.r.q.MarkSyncedUnchanged(ctx, f.drift)
		w.account("correct sync status", n, got, err)
	}
	if n := len(f.orphans); n > 0 && cfg.RemoveOrphans {
		got, err := w.r.q.EnqueueOrphanDeletes(ctx, f.orphans, repairReason, cfg.MaxRetries)
		w.account("enqueue orphan removal", n, got, err)
		enqueued = enqueued || got > 0
	}
	if n := len(f.erased); n > 0 {
		got, err := w.r.q.EnqueueErasedDeletes(ctx, f.erased, repairReason, cfg.MaxRetries)
		w.account("enqueue removal of erased email", n, got, err)
		enqueued = enqueued || got > 0
	}
	if enqueued {
		cfg.Wake()
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("repair: %w", err)
	}
	return nil
}

// account counts a repair of tried records of which done applied.
func (w *walk) account(what string, tried int, done int64, err error) {
	if err != nil {
		done = 0
		slog.Warn("reconciliation repair failed", "repair", what, "records", tried, "err", err)
	}
	w.t.repaired += done
	w.t.failed += int64(tried) - done
}
