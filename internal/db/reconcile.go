package db

import (
	"context"
	"time"

	"mailsync/internal/db/gen"
)

// The reconciliation's statements: its one-run-at-a-time lock, the
// PostgreSQL side of the comparison, and the repairs it enqueues.

// TryReconcileLock takes the session-level advisory lock key without
// waiting, and reports whether it got it. The lock belongs to the session:
// run it on a dedicated connection (not a pool), and unlock on that same
// connection with ReconcileUnlock. Its errors are database errors.
func (q *Queries) TryReconcileLock(ctx context.Context, key int64) (bool, error) {
	ok, err := q.g.TryReconcileLock(ctx, key)
	return ok, wrap("try reconciliation lock", err)
}

// ReconcileUnlock releases the advisory lock key taken by TryReconcileLock
// on the same connection, and reports whether this session held it. Its
// errors are database errors.
func (q *Queries) ReconcileUnlock(ctx context.Context, key int64) (bool, error) {
	ok, err := q.g.ReconcileUnlock(ctx, key)
	return ok, wrap("reconciliation unlock", err)
}

// BucketSummary is the PostgreSQL side of one bucket of ids as one page of
// BucketSummaries saw it. The last bucket of a page may go on in the next
// page: its summaries combine (the counts add up, the hashes XOR).
type BucketSummary struct {
	Bucket      int64 // the bucket b of ids (b*width, (b+1)*width]
	RowsSpanned int64 // emails of every kind in the bucket
	LastID      int64 // the highest id of the page's rows in the bucket
	// Replicated counts the emails that have a MongoDB document (neither
	// not_applicable nor erased); XorHash is the XOR of their 64-bit record
	// hashes (the first 8 bytes of md5("id:version:content_hash")).
	Replicated int64
	XorHash    uint64
	Unsynced   int64 // replicated emails whose status is not synced
}

// BucketSummaries summarises, per bucket of width consecutive ids, the next
// limit emails with an id above afterID, in bucket order. Its errors are
// database errors.
func (q *Queries) BucketSummaries(ctx context.Context, afterID int64, limit int32, width int64) ([]BucketSummary, error) {
	rows, err := q.g.BucketSummaries(ctx, gen.BucketSummariesParams{AfterID: afterID, RowLimit: limit, Width: width})
	if err != nil {
		return nil, wrap("bucket summaries", err)
	}
	out := make([]BucketSummary, len(rows))
	for i, r := range rows {
		out[i] = BucketSummary{Bucket: r.Bucket, RowsSpanned: r.RowsSpanned, LastID: r.LastID,
			Replicated: r.Replicated, XorHash: uint64(r.XorHash), Unsynced: r.Unsynced}
	}
	return out, nil
}

// RangeEmail is one email of a compared range, as far as the comparison
// needs it.
type RangeEmail struct {
	ID          int64
	Version     int64
	ContentHash string // "" for an email stored before content hashes existed
	SyncStatus  string
	Erased      bool // a tombstone: it has no MongoDB document
	// InFlight: a relay is about to (re)write the email (an outbox message
	// younger than the grace period waits), or it was synced after the
	// changedSince of RangeRows.
	InFlight bool
}

// RangeRows returns the emails with ids in (afterID, lastID], in id order.
// grace is how long an outbox message counts as in flight. Its errors are
// database errors.
func (q *Queries) RangeRows(ctx context.Context, afterID, lastID int64, changedSince time.Time, grace time.Duration) ([]RangeEmail, error) {
	rows, err := q.g.RangeRows(ctx, gen.RangeRowsParams{
		ChangedSince: changedSince, GraceSeconds: grace.Seconds(), AfterID: afterID, LastID: lastID})
	if err != nil {
		return nil, wrap("range rows", err)
	}
	out := make([]RangeEmail, len(rows))
	for i, r := range rows {
		out[i] = RangeEmail{ID: r.ID, Version: r.Version, ContentHash: r.ContentHash, SyncStatus: r.SyncStatus,
			Erased: r.Erased, InFlight: r.InFlight}
	}
	return out, nil
}

// ContentHashes computes the content hash of each email in ids from its
// stored content (for emails stored before content hashes existed). An id
// without an email, or whose stored content does not decode, is absent from
// the result. Its errors are database errors.
func (q *Queries) ContentHashes(ctx context.Context, ids []int64) (map[int64]string, error) {
	rows, err := q.g.GetEmailsByIDs(ctx, ids)
	if err != nil {
		return nil, wrap("get emails by ids", err)
	}
	out := make(map[int64]string, len(rows))
	for _, row := range rows {
		if e, err := emailFromRow(row); err == nil {
			out[row.ID] = e.Content.Hash()
		}
	}
	return out, nil
}

// ConfirmOrphans returns, in id order, the ids of MongoDB documents among
// ids that have no email and no outbox message younger than grace in flight
// (a removal the relay has not done yet). Its errors are database errors.
func (q *Queries) ConfirmOrphans(ctx context.Context, ids []int64, grace time.Duration) ([]int64, error) {
	out, err := q.g.ConfirmOrphans(ctx, gen.ConfirmOrphansParams{Ids: ids, GraceSeconds: grace.Seconds()})
	return out, wrap("confirm orphans", err)
}

// EnqueueResync enqueues an outbox 'upsert' for each email in ids that still
// exists (the relay writes its current state), resets its sync state to
// pending, and returns how many it enqueued. reason is the messages'
// payload reason; maxRetries their relay attempts.
func (q *Queries) EnqueueResync(ctx context.Context, ids []int64, reason string, maxRetries int32) (int64, error) {
	n, err := q.g.EnqueueResync(ctx, gen.EnqueueResyncParams{Ids: ids, Reason: reason, MaxRetries: maxRetries})
	return n, wrap("enqueue re-sync", err)
}

// EmailVersion is the version and content hash an email had when its
// MongoDB document was compared.
type EmailVersion struct {
	ID          int64
	Version     int64
	ContentHash string
}

// MarkSyncedUnchanged marks synced each email in es whose document was
// found equal, only while its version and content hash are still those of
// es and it is neither synced nor not_applicable, and returns how many it
// marked.
func (q *Queries) MarkSyncedUnchanged(ctx context.Context, es []EmailVersion) (int64, error) {
	p := gen.MarkSyncedUnchangedParams{
		Ids: make([]int64, len(es)), Versions: make([]int64, len(es)), ContentHashes: make([]string, len(es))}
	for i, e := range es {
		p.Ids[i], p.Versions[i], p.ContentHashes[i] = e.ID, e.Version, e.ContentHash
	}
	n, err := q.g.MarkSyncedUnchanged(ctx, p)
	return n, wrap("mark synced unchanged", err)
}

// EnqueueOrphanDeletes enqueues an outbox 'delete' of each MongoDB document
// in ids that has no email (never one that has), and returns how many it
// enqueued.
func (q *Queries) EnqueueOrphanDeletes(ctx context.Context, ids []int64, reason string, maxRetries int32) (int64, error) {
	n, err := q.g.EnqueueOrphanDeletes(ctx, gen.EnqueueOrphanDeletesParams{Ids: ids, Reason: reason, MaxRetries: maxRetries})
	return n, wrap("enqueue orphan deletes", err)
}

// EnqueueErasedDeletes enqueues an outbox 'delete' of the MongoDB document
// of each erased email in ids, resets its sync state to pending, and returns
// how many it enqueued.
func (q *Queries) EnqueueErasedDeletes(ctx context.Context, ids []int64, reason string, maxRetries int32) (int64, error) {
	n, err := q.g.EnqueueErasedDeletes(ctx, gen.EnqueueErasedDeletesParams{Ids: ids, Reason: reason, MaxRetries: maxRetries})
	return n, wrap("enqueue erased deletes", err)
}

// EmailSize is an email's id and a size in bytes.
type EmailSize struct {
	ID    int64
	Bytes int64
}

// LargeEmails returns up to limit emails whose text and HTML bodies together
// exceed minBytes, largest first, with those bodies' size. It reads the
// stored lengths, not the bodies. Its errors are database errors.
func (q *Queries) LargeEmails(ctx context.Context, minBytes int64, limit int32) ([]EmailSize, error) {
	rows, err := q.g.LargeEmails(ctx, gen.LargeEmailsParams{MinBytes: minBytes, RowLimit: limit})
	if err != nil {
		return nil, wrap("large emails", err)
	}
	out := make([]EmailSize, len(rows))
	for i, r := range rows {
		out[i] = EmailSize{ID: r.ID, Bytes: r.BodyBytes}
	}
	return out, nil
}

// EmailLoadSizes returns, by id, the bytes each email in ids weighs when
// loaded (at least its raw size), without reading its TOASTed values. An id
// without an email is absent. Its errors are database errors.
func (q *Queries) EmailLoadSizes(ctx context.Context, ids []int64) (map[int64]int64, error) {
	rows, err := q.g.EmailLoadSizes(ctx, ids)
	if err != nil {
		return nil, wrap("email load sizes", err)
	}
	out := make(map[int64]int64, len(rows))
	for _, r := range rows {
		out[r.ID] = r.LoadBytes
	}
	return out, nil
}

// NotifyOutbox wakes the relays listening on every instance (a NOTIFY
// without a sender), for a process that runs no relay of its own.
func (q *Queries) NotifyOutbox(ctx context.Context) error {
	return wrap("notify outbox", q.g.NotifyOutbox(ctx))
}
