-- name: NextBlobChunksID :one
-- A fresh chunks_id for one upload of one blob.
SELECT nextval('blob_chunks_id_seq')::bigint AS chunks_id;

-- name: InsertBlobChunk :exec
INSERT INTO blob_chunks (chunks_id, n, data) VALUES (@chunks_id, @n, @data);

-- name: ReadBlobChunk :one
SELECT data FROM blob_chunks WHERE chunks_id = @chunks_id AND n = @n;

-- name: DeleteBlobChunks :execrows
DELETE FROM blob_chunks WHERE chunks_id = ANY(@chunks_ids::bigint[]);

-- name: ExistingBlobs :many
-- The blobs among shas that are stored.
SELECT sha256 FROM blobs WHERE sha256 = ANY(@shas::text[]);

-- name: ClaimBlob :batchone
-- Records a blob whose chunks are written under chunks_id, or, when a blob
-- with the same sha256 exists, locks that row until the transaction ends
-- (so an erasure cannot delete it before the caller's reference commits) and
-- returns no row. A NULL chunks_id for a blob that does not exist fails the
-- NOT NULL constraint: the caller skipped the upload and must upload it.
INSERT INTO blobs (sha256, size_bytes, chunks_id)
VALUES (@sha256, @size_bytes, sqlc.narg(chunks_id)::bigint)
ON CONFLICT (sha256) DO UPDATE SET size_bytes = blobs.size_bytes WHERE false
RETURNING id;

-- name: InsertEmailBlobs :exec
INSERT INTO email_blobs (email_id, sha256, kind)
SELECT unnest(@email_ids::bigint[]), unnest(@shas::text[]), unnest(@kinds::text[])
ON CONFLICT DO NOTHING;

-- name: GetBlob :one
SELECT * FROM blobs WHERE sha256 = @sha256;

-- name: EmailBlobs :many
-- The blobs email_id references, with their kind.
SELECT eb.kind, b.* FROM email_blobs eb JOIN blobs b ON b.sha256 = eb.sha256
WHERE eb.email_id = @email_id
ORDER BY eb.kind, b.sha256;

-- name: RawBlobsOf :many
SELECT email_id, sha256 FROM email_blobs WHERE email_id = ANY(@email_ids::bigint[]) AND kind = 'raw';

-- name: UnsyncedBlobsOf :many
-- The blobs the emails in email_ids reference that are not in MongoDB yet.
SELECT b.* FROM blobs b
WHERE b.synced_at IS NULL
  AND b.sha256 IN (SELECT eb.sha256 FROM email_blobs eb WHERE eb.email_id = ANY(@email_ids::bigint[]))
ORDER BY b.sha256;

-- name: MarkBlobSynced :exec
UPDATE blobs SET synced_at = now() WHERE sha256 = @sha256 AND synced_at IS NULL;

-- name: MarkBlobUnsynced :execrows
-- Records that MongoDB lacks the blob (reconciliation found it missing).
UPDATE blobs SET synced_at = NULL WHERE sha256 = @sha256 AND synced_at IS NOT NULL;

-- name: ReleaseEmailBlobs :many
-- Drops the references of the emails in email_ids and returns the blobs
-- they referenced.
WITH d AS (
    DELETE FROM email_blobs WHERE email_id = ANY(@email_ids::bigint[]) RETURNING sha256
)
SELECT DISTINCT sha256 FROM d ORDER BY sha256;

-- name: LockBlobs :many
-- Locks the blobs in shas in sha256 order, so that an ingest referencing one
-- of them waits for the caller's transaction, or the caller for it.
SELECT sha256 FROM blobs WHERE sha256 = ANY(@shas::text[]) ORDER BY sha256 FOR UPDATE;

-- name: DeleteUnreferencedBlobs :many
-- Deletes the blobs in shas that no email references (run after LockBlobs,
-- in a later statement, so references committed meanwhile are seen) with
-- their chunks, and enqueues the removal of each from MongoDB.
WITH d AS (
    DELETE FROM blobs b
    WHERE b.sha256 = ANY(@shas::text[])
      AND NOT EXISTS (SELECT 1 FROM email_blobs eb WHERE eb.sha256 = b.sha256)
    RETURNING b.id, b.sha256, b.chunks_id
), c AS (
    DELETE FROM blob_chunks WHERE chunks_id IN (SELECT d.chunks_id FROM d)
), o AS (
    INSERT INTO outbox_messages (aggregate_type, aggregate_id, operation, payload, max_retries)
    SELECT 'blob', d.id, 'delete', jsonb_build_object('sha256', d.sha256, 'reason', @reason::text), @max_retries::int
    FROM d
)
SELECT d.sha256 FROM d ORDER BY d.sha256;

-- name: BlobCounts :one
SELECT coalesce(sum(pg_blobs), 0)::bigint AS pg_blobs, coalesce(sum(pg_bytes), 0)::bigint AS pg_bytes,
       coalesce(sum(mongo_blobs), 0)::bigint AS mongo_blobs, coalesce(sum(mongo_bytes), 0)::bigint AS mongo_bytes
FROM blob_counts;

-- name: BlobExists :one
SELECT EXISTS (SELECT 1 FROM blobs WHERE sha256 = @sha256) AS present;

-- name: BlobsPage :many
-- Blobs in sha256 order after after_sha (reconciliation walks them all).
SELECT b.*, EXISTS (SELECT 1 FROM email_blobs eb WHERE eb.sha256 = b.sha256) AS referenced
FROM blobs b
WHERE b.sha256 > @after_sha::text
ORDER BY b.sha256
LIMIT @row_limit;

-- name: DeleteStaleChunks :execrows
-- Removes chunks that no blob names and that are older than before: the
-- leftovers of uploads whose email was never stored.
DELETE FROM blob_chunks c
WHERE c.created_at < @before
  AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.chunks_id = c.chunks_id);

-- name: BlobReferrer :one
-- One email referencing blob sha256 (the one a re-sync relays it with).
SELECT email_id FROM email_blobs WHERE sha256 = @sha256 ORDER BY email_id LIMIT 1;

-- name: EnqueueBlobDelete :exec
-- Enqueues the removal from MongoDB of a blob PostgreSQL does not hold
-- (aggregate id 0: there is no blobs row).
INSERT INTO outbox_messages (aggregate_type, aggregate_id, operation, payload, max_retries)
VALUES ('blob', 0, 'delete', jsonb_build_object('sha256', @sha256::text, 'reason', @reason::text), @max_retries::int);

-- name: CountStaleUploads :one
-- Uploads (chunks under one chunks_id) that no blob names, older than before.
SELECT count(DISTINCT c.chunks_id)::bigint AS uploads FROM blob_chunks c
WHERE c.created_at < @before
  AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.chunks_id = c.chunks_id);
