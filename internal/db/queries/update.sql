-- name: LockEmail :one
-- The email, locked until the end of the transaction (a patch or erasure
-- of the same email waits for it).
SELECT * FROM incoming_emails WHERE id = @id FOR UPDATE;

-- name: UpdateEmailPlacement :one
-- Sets mailbox and labels, bumps the version, and enqueues the upsert that
-- carries the new version to MongoDB. No row comes back when the email is
-- no longer at expected_version (the caller holds its lock, so it never is).
WITH e AS (
    UPDATE incoming_emails
    SET mailbox = @mailbox, labels = @labels::text[], content_hash = @content_hash,
        version = version + 1, updated_at = now(),
        sync_status = 'pending', sync_error = NULL, sync_retry_count = 0
    WHERE incoming_emails.id = @id AND incoming_emails.version = @expected_version AND incoming_emails.erased_at IS NULL
    RETURNING *
), o AS (
    INSERT INTO outbox_messages (aggregate_type, aggregate_id, operation, payload, idempotency_key, max_retries,
        traceparent, tracestate)
    SELECT 'email', e.id, 'upsert', jsonb_build_object('version', e.version, 'reason', 'patch'), e.idempotency_key, @max_retries::int,
        sqlc.narg(traceparent)::text, sqlc.narg(tracestate)::text
    FROM e
)
SELECT * FROM e;

-- name: LockEmailVersions :many
-- Locks the emails in ids (in id order, so relays never deadlock) until the
-- end of the transaction and returns their current versions: the relay's
-- completion of a batch is then serialised per email with other relays'
-- (so "nothing else in flight" is judged on committed state), and it sees
-- whether what it wrote is still the newest version.
SELECT id, version FROM incoming_emails WHERE id = ANY(@ids::bigint[]) ORDER BY id FOR UPDATE;
