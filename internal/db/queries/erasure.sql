-- name: EraseEmails :many
-- Turns each email in ids that is not erased yet into a tombstone: every
-- personal column is cleared (a new personal column must be cleared here
-- too), the version is bumped, an outbox
-- 'delete' removes the MongoDB document, and the cached responses of its
-- idempotency record are purged (status 410: a request with its key is
-- answered Gone). Returns the ids erased. The rows are locked in id order
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
        message_id_source = 'header', incomplete = false,
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
    SET response_body = NULL, response_status = 410
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
INSERT INTO erasure_jobs (requested_by, request_id, address, mailbox, received_before, reason)
VALUES (@requested_by, @request_id, sqlc.narg(address), sqlc.narg(mailbox), sqlc.narg(received_before), @reason)
RETURNING *;

-- name: GetErasureJob :one
SELECT * FROM erasure_jobs WHERE id = @id;

-- name: ListErasureJobs :many
SELECT * FROM erasure_jobs
WHERE (sqlc.narg(before_id)::bigint IS NULL OR id < sqlc.narg(before_id)::bigint)
ORDER BY id DESC
LIMIT @row_limit;

-- name: ClaimErasureJob :one
-- Leases the oldest open job whose lease is free or expired (its instance
-- died) to worker.
UPDATE erasure_jobs j
SET status = 'running', started_at = coalesce(j.started_at, now()),
    locked_until = now() + make_interval(secs => @lease_seconds::float8), locked_by = @worker::text
WHERE j.id = (
    SELECT c.id FROM erasure_jobs c
    WHERE c.status IN ('pending', 'running') AND (c.locked_until IS NULL OR c.locked_until < now())
    ORDER BY c.id
    LIMIT 1
    FOR UPDATE SKIP LOCKED)
RETURNING j.*;

-- name: ScopeErasureJob :execrows
-- Fixes the job's scope on its first claim: the emails up to the newest id
-- now, and how many of them match (erasure_job_emails, migration 000007).
UPDATE erasure_jobs j
SET high_water_id = h.max_id,
    matched = (SELECT count(*) FROM erasure_job_emails m WHERE m.job_id = j.id AND m.email_id <= h.max_id)
FROM (SELECT coalesce(max(id), 0)::bigint AS max_id FROM incoming_emails) h
WHERE j.id = @id AND j.locked_by = @worker::text AND j.high_water_id IS NULL;

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
SET last_id = @last_id, erased = erased + @erased::bigint,
    locked_until = now() + make_interval(secs => @lease_seconds::float8)
WHERE id = @id AND locked_by = @worker::text AND status = 'running';

-- name: FinishErasureJob :exec
UPDATE erasure_jobs
SET status = @status, completed_at = now(), locked_until = NULL, locked_by = NULL,
    error_message = sqlc.narg(error_message)
WHERE id = @id AND locked_by = @worker::text;

-- name: ReleaseErasureJob :exec
-- Gives the job back (shutdown) so another instance may go on at once.
UPDATE erasure_jobs SET locked_until = NULL, locked_by = NULL
WHERE id = @id AND locked_by = @worker::text AND status = 'running';

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
