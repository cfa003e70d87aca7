-- name: TryMaintenanceLock :one
-- Held until the end of the transaction: one retention pass at a time across instances.
SELECT pg_try_advisory_xact_lock(7405212);

-- name: DeleteProcessedOutbox :execrows
DELETE FROM outbox_messages
WHERE id IN (
    SELECT id FROM outbox_messages
    WHERE created_at < @before::timestamptz AND processed_at IS NOT NULL
    ORDER BY created_at
    LIMIT @row_limit);

-- name: DeleteExpiredIdempotencyKeys :execrows
DELETE FROM idempotency_keys
WHERE id IN (
    SELECT id FROM idempotency_keys
    WHERE expires_at < @before::timestamptz
    ORDER BY expires_at
    LIMIT @row_limit);

-- name: DeleteOldReports :execrows
DELETE FROM reconciliation_reports
WHERE id IN (
    SELECT id FROM reconciliation_reports
    WHERE run_at < @before::timestamptz AND status <> 'running'
    ORDER BY run_at
    LIMIT @row_limit);
