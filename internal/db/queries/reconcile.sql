-- name: LatestReport :one
SELECT * FROM reconciliation_reports ORDER BY id DESC LIMIT 1;

-- Reports ---------------------------------------------------------------

-- name: InsertReport :one
INSERT INTO reconciliation_reports (trigger, dry_run, details, status)
VALUES (@trigger, @dry_run, @details, 'running')
RETURNING *;

-- name: FinishReport :one
UPDATE reconciliation_reports
SET status = @status, completed_at = now(), records_checked = @records_checked,
    mismatches_found = @mismatches_found, auto_repaired = @auto_repaired,
    failed_repairs = @failed_repairs, details = @details, error_message = sqlc.narg(error_message)
WHERE id = @id
RETURNING *;

-- name: FailStaleReports :execrows
-- Run while holding the reconciliation lock: any report still running then
-- belongs to an instance that died mid-run.
UPDATE reconciliation_reports
SET status = 'failed', completed_at = now(),
    error_message = 'interrupted: the instance running it stopped before it finished'
WHERE status = 'running';

-- name: FailOrphanedReports :execrows
-- Safe without the lock: a report still running while no session of this
-- database holds the reconciliation lock belongs to a run that ended without
-- finishing it. (A run inserts its report only while holding the lock and
-- finishes it before unlocking; a report finished meanwhile is re-checked
-- by the UPDATE and left alone.)
UPDATE reconciliation_reports
SET status = 'failed', completed_at = now(),
    error_message = 'interrupted: the instance running it stopped before it finished'
WHERE status = 'running'
  AND NOT EXISTS (
    SELECT 1 FROM pg_catalog.pg_locks l
    WHERE l.locktype = 'advisory' AND l.granted
      AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d WHERE datname = current_database())
      AND l.classid = ((@lock_key::bigint >> 32) & 4294967295)::oid
      AND l.objid = (@lock_key::bigint & 4294967295)::oid
      AND l.objsubid = 1);

-- name: RunningReport :one
SELECT * FROM reconciliation_reports WHERE status = 'running' ORDER BY id DESC LIMIT 1;

-- name: GetReport :one
SELECT * FROM reconciliation_reports WHERE id = @id;

-- name: ListReports :many
-- Newest first; before_id is the keyset cursor (the last id of the previous page).
SELECT * FROM reconciliation_reports
WHERE (sqlc.narg(before_id)::bigint IS NULL OR id < sqlc.narg(before_id)::bigint)
ORDER BY id DESC
LIMIT @row_limit;

-- The one-run-at-a-time lock (session level: held on a dedicated connection) --

-- name: TryReconcileLock :one
SELECT pg_try_advisory_lock(@lock_key::bigint) AS acquired;

-- name: ReconcileUnlock :one
SELECT pg_advisory_unlock(@lock_key::bigint) AS released;

-- Comparison -------------------------------------------------------------

-- name: BucketSummaries :many
-- Summarises the next row_limit emails after after_id per bucket of ids
-- (bucket b holds the ids in (b*width, (b+1)*width]): the rows it spans, its
-- last id, and over its replicated rows (not 'not_applicable') their count,
-- the XOR of a 64-bit hash of (id, version, content_hash) (the first 64 bits
-- of md5("id:version:content_hash"), which the reconciler computes the same
-- way for each MongoDB document), and how many are not synced. The last
-- bucket of a page may go on in the next page: the aggregates combine.
WITH r AS (
    SELECT e.id, e.version, e.content_hash, e.sync_status, e.erased_at IS NOT NULL AS erased
    FROM incoming_emails e
    WHERE e.id > @after_id::bigint
    ORDER BY e.id
    LIMIT @row_limit::int
), b AS (
    -- floor((id - 1) / width), exact for every bigint
    SELECT r.*, ((r.id - 1) - (((r.id - 1) % @width::bigint) + @width::bigint) % @width::bigint) / @width::bigint AS bucket
    FROM r
)
SELECT
    b.bucket::bigint AS bucket,
    count(*)::bigint AS rows_spanned,
    max(b.id)::bigint AS last_id,
    count(*) FILTER (WHERE b.sync_status <> 'not_applicable' AND NOT b.erased)::bigint AS replicated,
    coalesce(bit_xor(('x' || substr(md5(b.id::text || ':' || b.version::text || ':' || b.content_hash), 1, 16))::bit(64)::bigint)
        FILTER (WHERE b.sync_status <> 'not_applicable' AND NOT b.erased), 0)::bigint AS xor_hash,
    count(*) FILTER (WHERE b.sync_status NOT IN ('synced', 'not_applicable') AND NOT b.erased)::bigint AS unsynced
FROM b
GROUP BY b.bucket
ORDER BY b.bucket;

-- name: RangeRows :many
-- The emails of one bucket (ids in (after_id, last_id]), one by one, for a
-- bucket whose aggregates differ or that holds unsynced emails. erased: a
-- tombstone, which has no document (erased emails are left out of the
-- bucket summaries).
-- in_flight: a relay is about to (re)write the email (an unprocessed, not
-- dead outbox message younger than the grace period), or it was synced after
-- changed_since (it changed while the run was reading MongoDB).
SELECT e.id, e.version, e.content_hash, e.sync_status, (e.erased_at IS NOT NULL)::bool AS erased,
    (coalesce(e.synced_at >= @changed_since::timestamptz, false) OR EXISTS (
        SELECT 1 FROM outbox_messages o
        WHERE o.aggregate_type = 'email' AND o.aggregate_id = e.id
          AND o.processed_at IS NULL AND o.failed_at IS NULL
          AND o.created_at > now() - make_interval(secs => @grace_seconds::float8)))::bool AS in_flight
FROM incoming_emails e
WHERE e.id > @after_id::bigint AND e.id <= @last_id::bigint
ORDER BY e.id;

-- name: ConfirmOrphans :many
-- Of the MongoDB ids given, those with no email and no message in flight
-- (e.g. a removal the relay has not done yet).
SELECT u.id::bigint AS id
FROM unnest(@ids::bigint[]) AS u(id)
WHERE NOT EXISTS (SELECT 1 FROM incoming_emails e WHERE e.id = u.id)
  AND NOT EXISTS (
    SELECT 1 FROM outbox_messages o
    WHERE o.aggregate_type = 'email' AND o.aggregate_id = u.id
      AND o.processed_at IS NULL AND o.failed_at IS NULL
      AND o.created_at > now() - make_interval(secs => @grace_seconds::float8))
ORDER BY u.id;

-- Repair -----------------------------------------------------------------

-- name: EnqueueResync :execrows
-- Enqueues a fresh sync of each email in ids that still exists (the relay
-- writes its current state) and resets its sync state to pending.
WITH e AS (
    UPDATE incoming_emails
    SET sync_status = 'pending', sync_error = NULL, sync_retry_count = 0
    WHERE id = ANY(@ids::bigint[])
    RETURNING incoming_emails.id, incoming_emails.version, incoming_emails.idempotency_key
)
INSERT INTO outbox_messages (aggregate_type, aggregate_id, operation, payload, idempotency_key, max_retries)
SELECT 'email', e.id, 'upsert', jsonb_build_object('version', e.version, 'reason', @reason::text), e.idempotency_key, @max_retries::int
FROM e;

-- name: MarkSyncedUnchanged :execrows
-- Corrects the status of emails whose MongoDB document was found equal:
-- only while the version and content hash are still the ones compared.
UPDATE incoming_emails e
SET sync_status = 'synced', synced_at = now(), sync_error = NULL
FROM (SELECT unnest(@ids::bigint[]) AS id, unnest(@versions::bigint[]) AS version,
             unnest(@content_hashes::text[]) AS content_hash) AS u
WHERE e.id = u.id AND e.version = u.version AND e.content_hash = u.content_hash
  AND e.sync_status NOT IN ('synced', 'not_applicable');

-- name: EnqueueOrphanDeletes :execrows
-- Enqueues the removal of each orphan document in ids by the relay; never for
-- an id that has an email.
INSERT INTO outbox_messages (aggregate_type, aggregate_id, operation, payload, max_retries)
SELECT 'email', u.id, 'delete', jsonb_build_object('reason', @reason::text), @max_retries::int
FROM unnest(@ids::bigint[]) AS u(id)
WHERE NOT EXISTS (SELECT 1 FROM incoming_emails e WHERE e.id = u.id);

-- name: LargeEmails :many
-- The emails whose bodies exceed min_bytes, largest first: the reconciler
-- sizes its MongoDB batches by them. octet_length of a TOASTed body reads
-- its stored length, not the body.
SELECT id, (octet_length(text_body) + octet_length(html_body))::bigint AS body_bytes
FROM incoming_emails
WHERE octet_length(text_body) + octet_length(html_body) > @min_bytes::bigint
ORDER BY body_bytes DESC
LIMIT @row_limit::int;
