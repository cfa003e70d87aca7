DROP TABLE IF EXISTS reconciliation_reports;
DROP TABLE IF EXISTS idempotency_keys;
DROP TABLE IF EXISTS outbox_messages;

ALTER TABLE incoming_emails
    DROP CONSTRAINT IF EXISTS incoming_emails_client_idempotency_key_key,
    DROP COLUMN IF EXISTS idempotency_key,
    DROP COLUMN IF EXISTS synced_at,
    DROP COLUMN IF EXISTS sync_retry_count,
    DROP COLUMN IF EXISTS sync_error,
    DROP COLUMN IF EXISTS sync_status,
    DROP COLUMN IF EXISTS content_hash,
    DROP COLUMN IF EXISTS version;
