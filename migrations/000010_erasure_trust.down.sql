CREATE OR REPLACE VIEW erasure_job_emails AS
SELECT j.id AS job_id, e.id AS email_id
FROM erasure_jobs j
JOIN incoming_emails e ON e.erased_at IS NULL
    AND (j.address IS NULL OR lower(e.from_address) = j.address
         OR position('<' || j.address || '>' in lower(e.from_address)) > 0
         OR EXISTS (SELECT 1 FROM unnest(e.to_addresses || e.cc_addresses || e.envelope_to || e.envelope_from) AS a(x)
                    WHERE lower(a.x) = j.address OR position('<' || j.address || '>' in lower(a.x)) > 0))
    AND (j.mailbox IS NULL OR e.mailbox = j.mailbox)
    AND (j.received_before IS NULL OR e.received_at < j.received_before);

ALTER TABLE erasure_jobs DROP CONSTRAINT erasure_jobs_criteria_check;
-- A job whose address was cleared keeps only its hash: it matched by address.
UPDATE erasure_jobs SET address = '' WHERE address IS NULL AND address_hmac IS NOT NULL
    AND mailbox IS NULL AND received_before IS NULL;
ALTER TABLE erasure_jobs ADD CONSTRAINT erasure_jobs_criteria_check
    CHECK (address IS NOT NULL OR mailbox IS NOT NULL OR received_before IS NOT NULL);
ALTER TABLE erasure_jobs
    DROP COLUMN address_hmac,
    DROP COLUMN next_attempt_at,
    DROP COLUMN attempts,
    DROP COLUMN scoped_at,
    DROP COLUMN requested_xids;

DROP FUNCTION mailsync_open_xids();
DROP TRIGGER incoming_emails_addresses ON incoming_emails;
DROP FUNCTION mailsync_set_addresses();
ALTER TABLE incoming_emails DROP COLUMN addresses;
DROP FUNCTION mailsync_email_addresses(text, text[], text[], text, text[]);
DROP FUNCTION mailsync_parse_addresses(text);
