-- The emails an erasure job matches and has not erased yet, as (job_id,
-- email_id): its address case-insensitively in from, to and cc, bare or
-- inside "Name <address>", and in the envelope sender and recipients; its
-- mailbox exactly; received before its received_before. Criteria not given
-- match every email. The job's scope (ScopeErasureJob counts them) and its
-- batches (NextErasureBatch erases them) select through this one
-- definition. A plain view: the planner expands it into each query, so the
-- plans are those of the predicate written out.
CREATE VIEW erasure_job_emails AS
SELECT j.id AS job_id, e.id AS email_id
FROM erasure_jobs j
JOIN incoming_emails e ON e.erased_at IS NULL
    AND (j.address IS NULL OR lower(e.from_address) = j.address
         OR position('<' || j.address || '>' in lower(e.from_address)) > 0
         OR EXISTS (SELECT 1 FROM unnest(e.to_addresses || e.cc_addresses || e.envelope_to || e.envelope_from) AS a(x)
                    WHERE lower(a.x) = j.address OR position('<' || j.address || '>' in lower(a.x)) > 0))
    AND (j.mailbox IS NULL OR e.mailbox = j.mailbox)
    AND (j.received_before IS NULL OR e.received_at < j.received_before);
