package db

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"mailsync/internal/db/gen"
)

// AggregateBlob is the aggregate type of the outbox rows that remove a deleted
// blob from MongoDB (aggregate id: the blob's id; payload: its sha256).
const AggregateBlob = "blob"

// BlobDeletePayload is the payload of a blob's outbox 'delete'.
type BlobDeletePayload struct {
	SHA256 string `json:"sha256"`
	Reason string `json:"reason"`
}

// ParseBlobDelete returns the sha256 a blob outbox row names, or "" when
// its payload holds none.
func ParseBlobDelete(m OutboxMessage) string {
	var p BlobDeletePayload
	if json.Unmarshal(m.Payload, &p) != nil {
		return ""
	}
	return p.SHA256
}

// ReleaseBlobs drops every blob reference of the emails in ids, deletes the
// blobs that no email references any more (rows and chunks), enqueues their
// removal from MongoDB (maxRetries attempts, reason in the payload) and
// returns the sha256s deleted. A blob another email still references stays.
// q must be a transaction: the blobs are locked before they are checked, so
// an ingest referencing one of them either commits first (and the blob
// stays) or waits and then stores it again.
func (q *Queries) ReleaseBlobs(ctx context.Context, ids []int64, reason string, maxRetries int32) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	shas, err := q.g.ReleaseEmailBlobs(ctx, ids)
	if err != nil || len(shas) == 0 {
		return nil, wrap("release email blobs", err)
	}
	return q.DeleteUnreferencedBlobs(ctx, shas, reason, maxRetries)
}

// DeleteUnreferencedBlobs deletes those of the blobs in shas that no email
// references (see ReleaseBlobs) and returns the sha256s deleted. q must be
// a transaction.
func (q *Queries) DeleteUnreferencedBlobs(ctx context.Context, shas []string, reason string, maxRetries int32) ([]string, error) {
	if _, err := q.g.LockBlobs(ctx, shas); err != nil {
		return nil, wrap("lock blobs", err)
	}
	deleted, err := q.g.DeleteUnreferencedBlobs(ctx, gen.DeleteUnreferencedBlobsParams{
		Shas: shas, Reason: reason, MaxRetries: maxRetries})
	return deleted, wrap("delete unreferenced blobs", err)
}

// BlobCounts are the blobs and their bytes in each store.
type BlobCounts struct {
	PostgresBlobs, PostgresBytes int64
	// MongoBlobs and MongoBytes count the blobs the relay has written to
	// MongoDB completely (synced_at set).
	MongoBlobs, MongoBytes int64
}

// BlobCounts returns the blob counters (kept by triggers, never a count of
// the tables).
func (q *Queries) BlobCounts(ctx context.Context) (BlobCounts, error) {
	r, err := q.g.BlobCounts(ctx)
	if err != nil {
		return BlobCounts{}, wrap("blob counts", err)
	}
	return BlobCounts{PostgresBlobs: r.PgBlobs, PostgresBytes: r.PgBytes, MongoBlobs: r.MongoBlobs, MongoBytes: r.MongoBytes}, nil
}

// BlobEntry is one blob as reconciliation sees it.
type BlobEntry struct {
	Blob
	Referenced bool // some email references it
}

// BlobsPage returns up to limit blobs with sha256 after after, in order.
func (q *Queries) BlobsPage(ctx context.Context, after string, limit int32) ([]BlobEntry, error) {
	rows, err := q.g.BlobsPage(ctx, gen.BlobsPageParams{AfterSha: after, RowLimit: limit})
	if err != nil {
		return nil, wrap("blobs page", err)
	}
	out := make([]BlobEntry, len(rows))
	for i, r := range rows {
		out[i] = BlobEntry{Blob: Blob{ID: r.ID, SHA256: r.Sha256, Size: r.SizeBytes, ChunksID: r.ChunksID,
			SyncedAt: r.SyncedAt}, Referenced: r.Referenced}
	}
	return out, nil
}

// BlobReferrer returns the id of one email referencing blob sha; ok is
// false when none does.
func (q *Queries) BlobReferrer(ctx context.Context, sha string) (id int64, ok bool, err error) {
	id, err = q.g.BlobReferrer(ctx, sha)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	return id, err == nil, wrap("blob referrer", err)
}

// EnqueueBlobDelete enqueues the removal of blob sha from MongoDB, for a
// blob PostgreSQL does not hold (the relay checks again before deleting).
func (q *Queries) EnqueueBlobDelete(ctx context.Context, sha, reason string, maxRetries int32) error {
	return wrap("enqueue blob delete", q.g.EnqueueBlobDelete(ctx, gen.EnqueueBlobDeleteParams{
		Sha256: sha, Reason: reason, MaxRetries: maxRetries}))
}

// CountStaleUploads counts the uploads older than before that no blob
// names (what DeleteStaleChunks removes).
func (q *Queries) CountStaleUploads(ctx context.Context, before time.Time) (int64, error) {
	n, err := q.g.CountStaleUploads(ctx, before)
	return n, wrap("count stale blob uploads", err)
}
