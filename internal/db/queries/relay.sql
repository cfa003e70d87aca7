-- name: ClaimOutbox :many
-- Leases up to row_limit due messages to one worker. Rows leased by a worker
-- whose lease expired are claimable again, so a killed worker loses nothing.
UPDATE outbox_messages o
SET locked_until = now() + make_interval(secs => @lease_seconds::float8), locked_by = @worker::text
WHERE o.id IN (
    SELECT c.id FROM outbox_messages c
    WHERE c.processed_at IS NULL AND c.failed_at IS NULL
      AND c.next_attempt_at <= now()
      AND (c.locked_until IS NULL OR c.locked_until < now())
      -- A paused relay claims nothing (one-row table, read per claim).
      AND NOT EXISTS (SELECT 1 FROM relay_control rc WHERE rc.paused)
    ORDER BY c.next_attempt_at, c.id
    LIMIT @row_limit
    FOR UPDATE SKIP LOCKED)
RETURNING o.*;

-- name: MarkOutboxProcessed :many
-- Completes rows still leased to worker and returns their ids: a worker whose
-- lease expired (or was taken over) completes nothing.
UPDATE outbox_messages
SET processed_at = now(), locked_until = NULL, locked_by = NULL, error_message = NULL
WHERE id = ANY(@ids::bigint[]) AND processed_at IS NULL
  AND locked_by = @worker::text AND locked_until > now()
RETURNING id;

-- name: EmailLoadSizes :many
-- The bytes each email weighs when loaded: the relay loads a batch's emails
-- in chunks under a byte budget. octet_length of text and pg_column_size do
-- not read the TOASTed values.
SELECT id, GREATEST(raw_size_bytes,
    octet_length(text_body) + coalesce(octet_length(html_body), 0)
    + pg_column_size(headers) + pg_column_size(attachments))::bigint AS load_bytes
FROM incoming_emails
WHERE id = ANY(@ids::bigint[]);

-- name: DeleteOutboxFor :exec
-- Marks processed the outbox rows of aggregates that no longer exist.
UPDATE outbox_messages
SET processed_at = now(), locked_until = NULL, locked_by = NULL
WHERE id = ANY(@ids::bigint[]);

-- name: ResolveDeadOutbox :exec
-- Dead messages of emails that have since been synced (after a re-drive) are
-- no longer dead letters; failed_at stays as history.
UPDATE outbox_messages
SET processed_at = now()
WHERE aggregate_type = 'email' AND aggregate_id = ANY(@ids::bigint[])
  AND failed_at IS NOT NULL AND processed_at IS NULL;

-- name: MarkEmailsSynced :exec
-- Run after MarkOutboxProcessed: an email with a newer message still queued stays pending.
UPDATE incoming_emails e
SET sync_status = 'synced', synced_at = now(), sync_error = NULL
WHERE e.id = ANY(@ids::bigint[])
  AND NOT EXISTS (
    SELECT 1 FROM outbox_messages o
    WHERE o.aggregate_type = 'email' AND o.aggregate_id = e.id
      AND o.processed_at IS NULL AND o.failed_at IS NULL);

-- name: FailOutbox :execrows
-- Records a failed attempt of a row still leased to worker; dead rows get
-- failed_at and are never claimed again. 0 rows: the lease was lost.
UPDATE outbox_messages
SET retry_count = retry_count + 1, error_message = @error_message, next_attempt_at = @next_attempt_at,
    locked_until = NULL, locked_by = NULL,
    failed_at = CASE WHEN @dead::bool THEN now() END
WHERE id = @id AND processed_at IS NULL AND locked_by = @worker::text AND locked_until > now();

-- name: MarkEmailSyncError :exec
UPDATE incoming_emails
SET sync_error = @sync_error, sync_retry_count = sync_retry_count + 1,
    sync_status = CASE WHEN @dead::bool THEN 'failed' ELSE sync_status END,
    sync_failed_at = CASE WHEN @dead::bool THEN now() ELSE sync_failed_at END
WHERE id = @id;

-- name: ReleaseOutbox :execrows
-- Gives rows still leased to worker back without counting an attempt and
-- without delaying them (next_attempt_at is left alone): claimable at once.
UPDATE outbox_messages
SET locked_until = NULL, locked_by = NULL, error_message = @error_message
WHERE id = ANY(@ids::bigint[]) AND processed_at IS NULL
  AND locked_by = @worker::text AND locked_until > now();

-- name: RequeueEmail :one
-- Enqueues a fresh sync of one email and resets its sync state to pending.
WITH e AS (
    UPDATE incoming_emails
    SET sync_status = 'pending', sync_error = NULL, sync_retry_count = 0
    WHERE incoming_emails.id = @id
    RETURNING incoming_emails.id, incoming_emails.version, incoming_emails.idempotency_key
)
INSERT INTO outbox_messages (aggregate_type, aggregate_id, operation, payload, idempotency_key, max_retries)
SELECT 'email', e.id, 'upsert', jsonb_build_object('version', e.version, 'reason', @reason::text), e.idempotency_key, @max_retries::int
FROM e
RETURNING outbox_messages.id;

-- name: ListOutboxForEmail :many
SELECT * FROM outbox_messages
WHERE aggregate_type = 'email' AND aggregate_id = @email_id
ORDER BY id DESC
LIMIT 100;

-- name: NotifyOutbox :exec
-- Wakes the relays of other instances (sent after commit, debounced).
SELECT pg_notify('mailsync_outbox', '');

-- name: NotifyOutboxFrom :exec
-- Like NotifyOutbox, with the sending instance as payload: its own listener
-- ignores it (its workers were woken in-process already).
SELECT pg_notify('mailsync_outbox', @sender::text);
