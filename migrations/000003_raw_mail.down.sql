DROP INDEX IF EXISTS incoming_emails_incomplete_idx;

ALTER TABLE incoming_emails
    DROP CONSTRAINT IF EXISTS incoming_emails_message_id_source_check,
    DROP COLUMN IF EXISTS incomplete,
    DROP COLUMN IF EXISTS message_id_source,
    DROP COLUMN IF EXISTS envelope_to,
    DROP COLUMN IF EXISTS envelope_from;
