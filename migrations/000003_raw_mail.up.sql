-- Real mail at the door: the SMTP envelope a raw message arrived with, and
-- what the service had to fill in for a message that lacked headers.
-- Every column has a constant default, so adding them rewrites no rows.
ALTER TABLE incoming_emails
    ADD COLUMN envelope_from     text    NOT NULL DEFAULT '',
    ADD COLUMN envelope_to       text[]  NOT NULL DEFAULT '{}',
    ADD COLUMN message_id_source text    NOT NULL DEFAULT 'header',
    ADD COLUMN incomplete        boolean NOT NULL DEFAULT false;

-- Existing rows hold the default, which satisfies the check; NOT VALID skips
-- the scan of the whole table while the check still holds for every write.
ALTER TABLE incoming_emails
    ADD CONSTRAINT incoming_emails_message_id_source_check
    CHECK (message_id_source IN ('header', 'generated')) NOT VALID;

-- GET /v1/emails?incomplete=true lists a small minority, newest first.
CREATE INDEX incoming_emails_incomplete_idx ON incoming_emails (id) WHERE incomplete;
