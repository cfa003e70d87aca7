-- Erased emails are counted as synced again.
CREATE OR REPLACE FUNCTION email_status_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    p bigint := 0; s bigint := 0; f bigint := 0; n bigint := 0;
    dp bigint; ds bigint; df bigint; dn bigint;
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT count(*) FILTER (WHERE sync_status = 'pending'), count(*) FILTER (WHERE sync_status = 'synced'),
               count(*) FILTER (WHERE sync_status = 'failed'), count(*) FILTER (WHERE sync_status = 'not_applicable')
        INTO p, s, f, n FROM new_rows;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        SELECT count(*) FILTER (WHERE sync_status = 'pending'), count(*) FILTER (WHERE sync_status = 'synced'),
               count(*) FILTER (WHERE sync_status = 'failed'), count(*) FILTER (WHERE sync_status = 'not_applicable')
        INTO dp, ds, df, dn FROM old_rows;
        p := p - dp; s := s - ds; f := f - df; n := n - dn;
    END IF;
    IF p <> 0 OR s <> 0 OR f <> 0 OR n <> 0 THEN
        INSERT INTO email_status_counts (pending, synced, failed, not_applicable) VALUES (p, s, f, n);
        IF random() < 0.001 THEN
            PERFORM email_status_counts_fold();
        END IF;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION email_status_counts_fold() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF pg_try_advisory_xact_lock(7405213) THEN
        WITH d AS (DELETE FROM email_status_counts RETURNING *)
        INSERT INTO email_status_counts (pending, synced, failed, not_applicable)
        SELECT coalesce(sum(pending), 0), coalesce(sum(synced), 0), coalesce(sum(failed), 0), coalesce(sum(not_applicable), 0)
        FROM d;
    END IF;
END $$;

LOCK TABLE incoming_emails IN SHARE MODE;
INSERT INTO email_status_counts (synced) SELECT coalesce(sum(erased), 0) FROM email_status_counts;
ALTER TABLE email_status_counts DROP COLUMN erased;
