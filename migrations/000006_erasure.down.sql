DROP TABLE IF EXISTS audit_events;
DROP TABLE IF EXISTS erasure_jobs;
DROP INDEX IF EXISTS incoming_emails_labels_idx;
ALTER TABLE incoming_emails
    DROP COLUMN IF EXISTS erase_reason,
    DROP COLUMN IF EXISTS erased_by,
    DROP COLUMN IF EXISTS erased_at,
    DROP COLUMN IF EXISTS labels;
