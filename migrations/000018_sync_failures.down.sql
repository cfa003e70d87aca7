DROP VIEW sync_failures;
DROP FUNCTION sync_error_pattern(text);
DROP INDEX incoming_emails_failed_client_idx;
DROP INDEX incoming_emails_failed_at_idx;
ALTER TABLE incoming_emails DROP COLUMN sync_failed_at;
