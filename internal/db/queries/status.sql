-- The figures dashboards poll (GET /v1/sync/status, /metrics). None counts a
-- whole table: they must stay fast at 10^7-10^8 emails.

-- name: CountEmailsByStatus :one
-- Exact: the sum of the deltas the incoming_emails triggers append
-- (migration 000004), in one pass over the few rows left since the last fold.
SELECT coalesce(sum(pending), 0)::bigint AS pending, coalesce(sum(synced), 0)::bigint AS synced,
       coalesce(sum(failed), 0)::bigint AS failed, coalesce(sum(not_applicable), 0)::bigint AS not_applicable,
       coalesce(sum(erased), 0)::bigint AS erased
FROM email_status_counts;

-- name: OutboxStats :one
-- Exact counts over the partial indexes of unprocessed rows: their cost
-- follows the backlog, not the number of processed rows.
SELECT
    (SELECT count(*) FROM outbox_messages
     WHERE processed_at IS NULL AND failed_at IS NULL AND (locked_until IS NULL OR locked_until < now()))::bigint AS pending,
    (SELECT count(*) FROM outbox_messages
     WHERE processed_at IS NULL AND failed_at IS NULL AND locked_until >= now())::bigint AS in_flight,
    (SELECT count(*) FROM outbox_messages WHERE failed_at IS NOT NULL AND processed_at IS NULL)::bigint AS failed,
    coalesce(extract(epoch FROM now() - (
        SELECT min(created_at) FROM outbox_messages WHERE processed_at IS NULL AND failed_at IS NULL)), 0)::float8 AS oldest_pending_age_seconds;

-- name: CountProcessedSince :one
-- A range of the processed_at index: its cost follows the recent rate.
SELECT count(*)::bigint FROM outbox_messages WHERE processed_at >= @since::timestamptz;
