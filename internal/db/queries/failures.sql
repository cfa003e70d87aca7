-- The failed emails: listed, counted, grouped and re-driven with one set of
-- filters. Every statement reads the sync_failures view (migration 000018),
-- and the filters are the same in each: a list and a re-drive with the same
-- filters select the same emails. A NULL filter does not filter; error is a
-- case-insensitive substring of the last sync error or of its pattern
-- (sync_error_pattern, migration 000018: what GroupSyncFailures groups by).

-- name: ListSyncFailures :many
SELECT f.id, f.client_id, f.message_id, f.mailbox, f.sync_error, f.sync_retry_count, f.updated_at, f.failed_at
FROM sync_failures f
WHERE (sqlc.narg(before_id)::bigint IS NULL OR f.id < sqlc.narg(before_id)::bigint)
  AND (sqlc.narg(mailbox)::text IS NULL OR f.mailbox = sqlc.narg(mailbox)::text)
  AND (sqlc.narg(client_id)::text IS NULL OR f.client_id = sqlc.narg(client_id)::text)
  AND (sqlc.narg(error)::text IS NULL OR strpos(lower(f.sync_error), lower(sqlc.narg(error)::text)) > 0
       OR strpos(lower(sync_error_pattern(f.sync_error)), lower(sqlc.narg(error)::text)) > 0)
  AND (sqlc.narg(failed_before)::timestamptz IS NULL OR f.failed_at < sqlc.narg(failed_before)::timestamptz)
  AND (sqlc.narg(failed_after)::timestamptz IS NULL OR f.failed_at >= sqlc.narg(failed_after)::timestamptz)
ORDER BY f.id DESC
LIMIT @row_limit;

-- name: CountSyncFailures :one
SELECT count(*)::bigint
FROM sync_failures f
WHERE (sqlc.narg(mailbox)::text IS NULL OR f.mailbox = sqlc.narg(mailbox)::text)
  AND (sqlc.narg(client_id)::text IS NULL OR f.client_id = sqlc.narg(client_id)::text)
  AND (sqlc.narg(error)::text IS NULL OR strpos(lower(f.sync_error), lower(sqlc.narg(error)::text)) > 0
       OR strpos(lower(sync_error_pattern(f.sync_error)), lower(sqlc.narg(error)::text)) > 0)
  AND (sqlc.narg(failed_before)::timestamptz IS NULL OR f.failed_at < sqlc.narg(failed_before)::timestamptz)
  AND (sqlc.narg(failed_after)::timestamptz IS NULL OR f.failed_at >= sqlc.narg(failed_after)::timestamptz);

-- name: RequeueFailedEmails :execrows
-- Enqueues a fresh sync of the matching failed emails and resets them to
-- pending; the outer sync_status check skips an email a concurrent
-- re-drive took first.
WITH e AS (
    UPDATE incoming_emails
    SET sync_status = 'pending', sync_error = NULL, sync_retry_count = 0
    WHERE sync_status = 'failed'
      AND id IN (
        SELECT f.id FROM sync_failures f
        WHERE (sqlc.narg(mailbox)::text IS NULL OR f.mailbox = sqlc.narg(mailbox)::text)
          AND (sqlc.narg(client_id)::text IS NULL OR f.client_id = sqlc.narg(client_id)::text)
          AND (sqlc.narg(error)::text IS NULL OR strpos(lower(f.sync_error), lower(sqlc.narg(error)::text)) > 0
       OR strpos(lower(sync_error_pattern(f.sync_error)), lower(sqlc.narg(error)::text)) > 0)
          AND (sqlc.narg(failed_before)::timestamptz IS NULL OR f.failed_at < sqlc.narg(failed_before)::timestamptz)
          AND (sqlc.narg(failed_after)::timestamptz IS NULL OR f.failed_at >= sqlc.narg(failed_after)::timestamptz))
    RETURNING incoming_emails.id, incoming_emails.version, incoming_emails.idempotency_key
)
INSERT INTO outbox_messages (aggregate_type, aggregate_id, operation, payload, idempotency_key, max_retries)
SELECT 'email', e.id, 'upsert', jsonb_build_object('version', e.version, 'reason', 'retry'), e.idempotency_key, @max_retries::int
FROM e;

-- name: GroupSyncFailures :many
-- The largest groups by error pattern ('': no error recorded; last among
-- equal counts) of the newest sample_size failed emails, and on every row
-- how many were counted. A backward range of incoming_emails_failed_idx:
-- its cost is bounded by sample_size, however many emails failed.
SELECT g.pattern, g.emails, g.sampled
FROM (
    SELECT coalesce(sync_error_pattern(s.sync_error), '')::text AS pattern, count(*)::bigint AS emails,
        (sum(count(*)) OVER ())::bigint AS sampled
    FROM (SELECT e.sync_error FROM incoming_emails e WHERE e.sync_status = 'failed'
          ORDER BY e.id DESC LIMIT @sample_size::int) s
    GROUP BY 1) g
ORDER BY g.emails DESC, g.pattern = '', g.pattern
LIMIT @row_limit::int;
