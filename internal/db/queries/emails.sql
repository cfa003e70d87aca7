-- name: ClaimIdempotencyKey :batchone
-- Inserts the key record in_progress. A concurrent transaction holding the
-- same key makes this wait until it ends (the unique index serialises them);
-- no row comes back when the key already exists.
INSERT INTO idempotency_keys (client_id, key, request_fingerprint, status, expires_at)
VALUES (@client_id, @key, @request_fingerprint, 'in_progress', @expires_at)
ON CONFLICT (client_id, key) DO NOTHING
RETURNING id;

-- name: GetIdempotencyKey :one
SELECT * FROM idempotency_keys WHERE client_id = @client_id AND key = @key;

-- name: CompleteIdempotencyKey :batchexec
UPDATE idempotency_keys
SET status = 'completed', response_status = @response_status, resource_id = @resource_id
WHERE id = @id;

-- name: InsertEmail :batchone
-- Inserts the email and its outbox record in one statement and returns only
-- what the server set (the caller has the content). No row comes back when
-- the client already stored an email under this idempotency key.
WITH e AS (
    INSERT INTO incoming_emails (
        client_id, message_id, mailbox, from_address, to_addresses, cc_addresses,
        subject, text_body, html_body, headers, attachments, raw_size_bytes,
        received_at, content_hash, idempotency_key,
        envelope_from, envelope_to, message_id_source, incomplete, parse_defects, auth_results, request_fingerprint,
        trace_id)
    VALUES (
        @client_id, @message_id, @mailbox, @from_address, @to_addresses, @cc_addresses,
        @subject, @text_body, @html_body, @headers, @attachments, @raw_size_bytes,
        @received_at, @content_hash, @idempotency_key,
        @envelope_from, @envelope_to, @message_id_source, @incomplete, @parse_defects::text[], @auth_results::jsonb,
        @request_fingerprint, sqlc.narg(trace_id)::text)
    ON CONFLICT (client_id, idempotency_key) DO NOTHING
    RETURNING id, version, idempotency_key, sync_status, created_at, updated_at
), o AS (
    INSERT INTO outbox_messages (aggregate_type, aggregate_id, operation, payload, idempotency_key, max_retries,
        traceparent, tracestate)
    SELECT 'email', e.id, 'upsert', jsonb_build_object('version', e.version, 'reason', 'ingest'), e.idempotency_key, @max_retries::int,
        sqlc.narg(traceparent)::text, sqlc.narg(tracestate)::text
    FROM e
)
SELECT e.id, e.version, e.sync_status, e.created_at, e.updated_at FROM e;

-- name: GetEmail :one
SELECT * FROM incoming_emails WHERE id = @id;

-- name: GetEmailByIdempotencyKey :one
-- Locked FOR SHARE until the transaction ends: an erasure waits for the
-- replay that reads it.
SELECT * FROM incoming_emails WHERE client_id = @client_id AND idempotency_key = @idempotency_key FOR SHARE;

-- name: GetEmailForReplay :one
-- Locked FOR SHARE until the transaction ends: an erasure waits for the
-- replay that renders it.
SELECT * FROM incoming_emails WHERE id = @id FOR SHARE;

-- name: GetEmailsByIDs :many
SELECT * FROM incoming_emails WHERE id = ANY(@ids::bigint[]);

-- name: ListEmails :many
-- Newest first; before_id is the keyset cursor (the last id of the previous page).
-- Tombstones of erased emails are not listed (GET /v1/emails/{id} shows them).
SELECT * FROM incoming_emails
WHERE erased_at IS NULL
  AND (sqlc.narg(sync_status)::text IS NULL OR sync_status = sqlc.narg(sync_status)::text)
  AND (sqlc.narg(mailbox)::text IS NULL OR mailbox = sqlc.narg(mailbox)::text)
  AND (sqlc.narg(message_id)::text IS NULL OR message_id = sqlc.narg(message_id)::text)
  AND (sqlc.narg(idempotency_key)::text IS NULL OR idempotency_key = sqlc.narg(idempotency_key)::text)
  AND (sqlc.narg(label)::text IS NULL OR labels @> ARRAY[sqlc.narg(label)::text])
  AND (sqlc.narg(received_after)::timestamptz IS NULL OR received_at >= sqlc.narg(received_after)::timestamptz)
  AND (sqlc.narg(received_before)::timestamptz IS NULL OR received_at < sqlc.narg(received_before)::timestamptz)
  AND (sqlc.narg(incomplete)::boolean IS NULL OR incomplete = sqlc.narg(incomplete)::boolean)
  AND (sqlc.narg(parse_defects)::boolean IS NULL OR (cardinality(parse_defects) > 0) = sqlc.narg(parse_defects)::boolean)
  AND (sqlc.narg(spf)::text IS NULL OR auth_results->'spf'->>'result' = sqlc.narg(spf)::text)
  AND (sqlc.narg(dmarc)::text IS NULL OR auth_results->'dmarc'->>'result' = sqlc.narg(dmarc)::text)
  AND (sqlc.narg(dkim)::text IS NULL OR auth_results->'dkim' @> jsonb_build_array(jsonb_build_object('result', sqlc.narg(dkim)::text)))
  AND (sqlc.narg(before_id)::bigint IS NULL OR id < sqlc.narg(before_id)::bigint)
ORDER BY id DESC
LIMIT @row_limit;
