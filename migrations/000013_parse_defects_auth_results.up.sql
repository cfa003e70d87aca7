-- What the parser could not read in a raw message as the standards say
-- (stable defect codes), and the sender-authentication verdicts of the
-- trusted Authentication-Results headers (and of mailsync's own DKIM check).
-- Both default to empty, which is what every earlier email had; adding a
-- column with a constant default rewrites no rows.
ALTER TABLE incoming_emails
    ADD COLUMN parse_defects text[] NOT NULL DEFAULT '{}',
    ADD COLUMN auth_results jsonb NOT NULL DEFAULT '{}';

-- GET /v1/emails?parse_defects=true walks the ids of the few emails with
-- defects, newest first.
CREATE INDEX incoming_emails_parse_defects_idx ON incoming_emails (id)
    WHERE cardinality(parse_defects) > 0;
