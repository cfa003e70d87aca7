DROP INDEX IF EXISTS incoming_emails_parse_defects_idx;
ALTER TABLE incoming_emails
    DROP COLUMN IF EXISTS auth_results,
    DROP COLUMN IF EXISTS parse_defects;
