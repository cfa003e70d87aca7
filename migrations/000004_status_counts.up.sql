-- Status figures that stay fast at 10^7-10^8 emails (what dashboards poll).
--
-- Emails by sync_status are counted exactly by statement-level triggers on
-- incoming_emails, so no code path (ingest, relay, re-drive, reconciliation
-- repair, erasure) can forget to. Each statement appends one row of deltas
-- to email_status_counts: rows are only ever inserted by writers, never
-- updated, so concurrent ingest transactions never wait on a shared counter
-- row. About one statement in a thousand folds the table into one row (one
-- folder at a time, under an advisory lock); a reader sums the few hundred
-- rows left.
CREATE TABLE email_status_counts (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pending        bigint NOT NULL DEFAULT 0,
    synced         bigint NOT NULL DEFAULT 0,
    failed         bigint NOT NULL DEFAULT 0,
    not_applicable bigint NOT NULL DEFAULT 0
) WITH (autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_cost_delay = 0);

-- Folds every committed delta row into one. A concurrent writer's rows that
-- are not committed yet are not seen, so they stay and are summed later.
CREATE FUNCTION email_status_counts_fold() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF pg_try_advisory_xact_lock(7405213) THEN
        WITH d AS (DELETE FROM email_status_counts RETURNING *)
        INSERT INTO email_status_counts (pending, synced, failed, not_applicable)
        SELECT coalesce(sum(pending), 0), coalesce(sum(synced), 0), coalesce(sum(failed), 0), coalesce(sum(not_applicable), 0)
        FROM d;
    END IF;
END $$;

-- Appends the change of counts a statement made: new_rows counted minus
-- old_rows counted (either transition table may be absent).
CREATE FUNCTION email_status_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE FUNCTION email_status_counts_reset() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM email_status_counts;
    RETURN NULL;
END $$;

CREATE TRIGGER incoming_emails_count_insert AFTER INSERT ON incoming_emails
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION email_status_counts_track();
CREATE TRIGGER incoming_emails_count_update AFTER UPDATE ON incoming_emails
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION email_status_counts_track();
CREATE TRIGGER incoming_emails_count_delete AFTER DELETE ON incoming_emails
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION email_status_counts_track();
CREATE TRIGGER incoming_emails_count_truncate AFTER TRUNCATE ON incoming_emails
    FOR EACH STATEMENT EXECUTE FUNCTION email_status_counts_reset();

-- The emails already stored (the triggers above hold writers off until commit).
INSERT INTO email_status_counts (pending, synced, failed, not_applicable)
SELECT count(*) FILTER (WHERE sync_status = 'pending'), count(*) FILTER (WHERE sync_status = 'synced'),
       count(*) FILTER (WHERE sync_status = 'failed'), count(*) FILTER (WHERE sync_status = 'not_applicable')
FROM incoming_emails;

-- Outbox figures count only unprocessed rows, through partial indexes, so
-- their cost follows the backlog, not the table (processed rows are most of it).
CREATE INDEX outbox_messages_unprocessed_idx ON outbox_messages (created_at) INCLUDE (locked_until)
    WHERE processed_at IS NULL AND failed_at IS NULL;
CREATE INDEX outbox_messages_dead_idx ON outbox_messages (id)
    WHERE failed_at IS NOT NULL AND processed_at IS NULL;
-- Failed emails, newest first (GET /v1/sync/failures).
CREATE INDEX incoming_emails_failed_idx ON incoming_emails (id) WHERE sync_status = 'failed';
