-- name: EraseEmails :many
-- Turns each email in ids that is not erased yet into a tombstone: every
-- personal column is cleared (a new personal column must be cleared here
-- too), the version is bumped, an outbox
-- 'delete' removes the MongoDB document, and its idempotency record is
-- marked 410 (a request with its key is answered Gone). Returns the ids erased. The rows are locked in id order
-- first, as the relay locks them, so the two never deadlock.
WITH l AS (
    SELECT id FROM incoming_emails
    WHERE id = ANY(@ids::bigint[]) AND erased_at IS NULL
    ORDER BY id
    FOR UPDATE
), e AS (
    UPDATE incoming_emails
    SET message_id = '', mailbox = '', from_address = '', to_addresses = '{}', cc_addresses = '{}',
        subject = '', text_body = '', html_body = '', headers = '{}', attachments = '[]',
        raw_size_bytes = 0, labels = '{}', envelope_from = '', envelope_to = '{}',
        message_id_source = 'header', incomplete = false, parse_defects = '{}', auth_results = '{}',
        request_fingerprint = NULL,
        erased_at = now(), erased_by = @erased_by::text, erase_reason = @erase_reason::text,
        version = version + 1, content_hash = 'erased', updated_at = now(),
        sync_status = 'pending', sync_error = NULL, sync_retry_count = 0
    FROM l
    WHERE incoming_emails.id = l.id AND incoming_emails.erased_at IS NULL
    RETURNING incoming_emails.id, incoming_emails.version, incoming_emails.client_id, incoming_emails.idempotency_key
), o AS (
    INSERT INTO outbox_messages (aggregate_type, aggregate_id, operation, payload, idempotency_key, max_retries)
    SELECT 'email', e.id, 'delete', jsonb_build_object('version', e.version, 'reason', 'erasure'), e.idempotency_key, @max_retries::int
    FROM e
), k AS (
    UPDATE idempotency_keys
    SET response_status = 410
    FROM e
    WHERE idempotency_keys.client_id = e.client_id AND idempotency_keys.key = e.idempotency_key
)
SELECT e.id::bigint AS id FROM e ORDER BY e.id;

-- name: ExpiredEmailIDs :many
-- Emails received before the retention limit and not erased yet, oldest first.
SELECT id FROM incoming_emails
WHERE received_at < @before::timestamptz AND erased_at IS NULL
ORDER BY received_at
LIMIT @row_limit;

-- name: InsertErasureJob :one
-- Records a job with the transactions in progress now (the request's
-- time, mailsync_open_xids): its scope waits for them to end
-- (ScopeErasureJob).
INSERT INTO erasure_jobs (requested_by, request_id, address, address_hmac, mailbox, received_before, reason, requested_xids)
VALUES (@requested_by, @request_id, sqlc.narg(address), sqlc.narg(address_hmac), sqlc.narg(mailbox), sqlc.narg(received_before), @reason,
        mailsync_open_xids())
RETURNING *;

-- name: ParseAddresses :one
-- The normalised addresses of one address list, as the matcher stores them
-- (mailsync_parse_addresses, migration 000010).
SELECT mailsync_parse_addresses(@list::text)::text[] AS addresses;

-- name: GetErasureJob :one
SELECT * FROM erasure_jobs WHERE id = @id;

-- name: ListErasureJobs :many
SELECT * FROM erasure_jobs
WHERE (sqlc.narg(before_id)::bigint IS NULL OR id < sqlc.narg(before_id)::bigint)
ORDER BY id DESC
LIMIT @row_limit;

-- name: ClaimErasureJob :one
-- Leases the oldest open job whose lease is free or expired (its instance
-- died) and whose next attempt is due to worker, counting an attempt.
UPDATE erasure_jobs j
SET status = 'running', started_at = coalesce(j.started_at, now()), attempts = j.attempts + 1,
    locked_until = now() + make_interval(secs => @lease_seconds::float8), locked_by = @worker::text
WHERE j.id = (
    SELECT c.id FROM erasure_jobs c
    WHERE c.status IN ('pending', 'running') AND (c.locked_until IS NULL OR c.locked_until < now())
      AND c.next_attempt_at <= now()
    ORDER BY c.id
    LIMIT 1
    FOR UPDATE SKIP LOCKED)
RETURNING j.*;

-- name: ScopeErasureJob :execrows
-- Fixes the job's scope on its first claim, once every transaction that was
-- in progress when the job was requested has ended (committed or rolled
-- back before this statement's snapshot): then every email acknowledged
-- before the request, whatever its id, is visible here, and the scope is
-- the emails up to the newest id now; matched counts them
-- (erasure_job_emails). No row while one of those transactions is still
-- open (the caller tries again later), or when the job is not worker's.
UPDATE erasure_jobs j
SET high_water_id = h.max_id, scoped_at = now(),
    matched = (SELECT count(*) FROM erasure_job_emails m WHERE m.job_id = j.id AND m.email_id <= h.max_id)
FROM (SELECT coalesce(max(id), 0)::bigint AS max_id FROM incoming_emails) h
WHERE j.id = @id AND j.locked_by = @worker::text AND j.high_water_id IS NULL
  AND NOT EXISTS (SELECT 1 FROM unnest(j.requested_xids) AS x(xid)
                  WHERE NOT pg_visible_in_snapshot(x.xid, pg_current_snapshot()));

-- name: NextErasureBatch :many
-- The next emails the job matches (erasure_job_emails) after its progress,
-- in id order.
SELECT m.email_id AS id FROM erasure_job_emails m, erasure_jobs j
WHERE m.job_id = @job_id AND j.id = @job_id AND m.email_id > j.last_id AND m.email_id <= j.high_water_id
ORDER BY m.email_id
LIMIT @row_limit;

-- name: AdvanceErasureJob :execrows
-- Records a batch's progress and renews the lease; no row when the worker
-- lost its lease (the batch is then rolled back).
UPDATE erasure_jobs
SET last_id = @last_id, erased = erased + @erased::bigint, attempts = 0, error_message = NULL,
    locked_until = now() + make_interval(secs => @lease_seconds::float8)
WHERE id = @id AND locked_by = @worker::text AND status = 'running';

-- name: FinishErasureJob :exec
-- Ends the job (completed or failed): its address (when its keyed hash is
-- kept) and its free-text reason are cleared, its lease freed.
UPDATE erasure_jobs
SET status = @status, completed_at = now(), locked_until = NULL, locked_by = NULL,
    error_message = sqlc.narg(error_message), reason = '',
    address = CASE WHEN address_hmac IS NOT NULL THEN NULL ELSE address END
WHERE id = @id AND locked_by = @worker::text;

-- name: RetryErasureJob :one
-- Records a failed attempt of a job leased to worker: its error, and its
-- next attempt after delay; once it made max_attempts attempts in a row
-- without progress it fails for good (address and reason cleared). Returns
-- the job's status after it.
UPDATE erasure_jobs
SET error_message = @error_message, locked_until = NULL, locked_by = NULL,
    next_attempt_at = now() + make_interval(secs => @delay_seconds::float8),
    status = CASE WHEN attempts >= @max_attempts::int THEN 'failed' ELSE status END,
    completed_at = CASE WHEN attempts >= @max_attempts::int THEN now() END,
    address = CASE WHEN attempts >= @max_attempts::int AND address_hmac IS NOT NULL THEN NULL ELSE address END,
    reason = CASE WHEN attempts >= @max_attempts::int THEN '' ELSE reason END
WHERE id = @id AND locked_by = @worker::text
RETURNING status;

-- name: ReleaseErasureJob :exec
-- Gives the job back (shutdown, or a scope that waits) without counting the
-- attempt, claimable again after delay.
UPDATE erasure_jobs SET locked_until = NULL, locked_by = NULL, attempts = greatest(attempts - 1, 0),
    next_attempt_at = now() + make_interval(secs => @delay_seconds::float8)
WHERE id = @id AND locked_by = @worker::text AND status = 'running';

-- name: ErasureJobStats :one
-- What the metrics report: jobs failed (ever), jobs open, and the age of the
-- oldest open job.
SELECT count(*) FILTER (WHERE status = 'failed')::bigint AS failed,
    count(*) FILTER (WHERE status IN ('pending', 'running'))::bigint AS open,
    coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE status IN ('pending', 'running'))), 0)::float8 AS oldest_open_age_seconds
FROM erasure_jobs;

-- Reconciliation of erased emails ------------------------------------------

-- name: EnqueueErasedDeletes :execrows
-- Enqueues the removal of the MongoDB document of each erased email in ids.
WITH e AS (
    UPDATE incoming_emails
    SET sync_status = 'pending', sync_error = NULL, sync_retry_count = 0
    WHERE id = ANY(@ids::bigint[]) AND erased_at IS NOT NULL
    RETURNING incoming_emails.id, incoming_emails.version, incoming_emails.idempotency_key
)
INSERT INTO outbox_messages (aggregate_type, aggregate_id, operation, payload, idempotency_key, max_retries)
SELECT 'email', e.id, 'delete', jsonb_build_object('version', e.version, 'reason', @reason::text), e.idempotency_key, @max_retries::int
FROM e;
