-- Erased emails are counted apart: a tombstone whose document is gone
-- (sync_status 'synced') counts as erased, not synced. A tombstone whose
-- delete is still pending or failed stays pending or failed, since the relay
-- still has work for it. The counts still add up to every row.
ALTER TABLE email_status_counts ADD COLUMN erased bigint NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION email_status_counts_fold() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF pg_try_advisory_xact_lock(7405213) THEN
        WITH d AS (DELETE FROM email_status_counts RETURNING *)
        INSERT INTO email_status_counts (pending, synced, failed, not_applicable, erased)
        SELECT coalesce(sum(pending), 0), coalesce(sum(synced), 0), coalesce(sum(failed), 0),
               coalesce(sum(not_applicable), 0), coalesce(sum(erased), 0)
        FROM d;
    END IF;
END $$;

CREATE OR REPLACE FUNCTION email_status_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    p bigint := 0; s bigint := 0; f bigint := 0; n bigint := 0; e bigint := 0;
    dp bigint; ds bigint; df bigint; dn bigint; de bigint;
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT count(*) FILTER (WHERE sync_status = 'pending'),
               count(*) FILTER (WHERE sync_status = 'synced' AND erased_at IS NULL),
               count(*) FILTER (WHERE sync_status = 'failed'), count(*) FILTER (WHERE sync_status = 'not_applicable'),
               count(*) FILTER (WHERE sync_status = 'synced' AND erased_at IS NOT NULL)
        INTO p, s, f, n, e FROM new_rows;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        SELECT count(*) FILTER (WHERE sync_status = 'pending'),
               count(*) FILTER (WHERE sync_status = 'synced' AND erased_at IS NULL),
               count(*) FILTER (WHERE sync_status = 'failed'), count(*) FILTER (WHERE sync_status = 'not_applicable'),
               count(*) FILTER (WHERE sync_status = 'synced' AND erased_at IS NOT NULL)
        INTO dp, ds, df, dn, de FROM old_rows;
        p := p - dp; s := s - ds; f := f - df; n := n - dn; e := e - de;
    END IF;
    IF p <> 0 OR s <> 0 OR f <> 0 OR n <> 0 OR e <> 0 THEN
        INSERT INTO email_status_counts (pending, synced, failed, not_applicable, erased) VALUES (p, s, f, n, e);
        IF random() < 0.001 THEN
            PERFORM email_status_counts_fold();
        END IF;
    END IF;
    RETURN NULL;
END $$;

-- The tombstones already synced move from synced to erased (one count, at
-- migration time; the triggers hold writers off until commit).
LOCK TABLE incoming_emails IN SHARE MODE;
INSERT INTO email_status_counts (synced, erased)
SELECT -count(*), count(*) FROM incoming_emails WHERE sync_status = 'synced' AND erased_at IS NOT NULL;
