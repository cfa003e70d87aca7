-- Erasure that holds: parsed addresses for the matcher, a scope that waits
-- for the transactions open when a job was requested, bounded attempts, and
-- no address kept once a job has ended.

-- mailsync_parse_addresses turns one header value (an address list as real
-- mail writes it) into its addresses, each normalised: display names and
-- comments dropped, the addr-spec inside <...> taken with the spaces around
-- it, lists split on commas (and groups "name: a, b;" opened), a quoted local
-- part unquoted when it needs no quotes, the whole address lower-cased.
-- Elements without a local part and a domain are left out.
CREATE FUNCTION mailsync_parse_addresses(s text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    out      text[] := '{}';
    n        int := length(s);
    i        int := 1;
    c        text;
    depth    int;
    cur      text := '';    -- the element outside <...>, comments removed
    angle    text := NULL;  -- the element's <...> content, NULL when none
    inangle  boolean := false;
    inquote  boolean := false;
    inlit    boolean := false;
    spec     text;
    at       int;
    loc      text;
    dom      text;
BEGIN
    -- The common case: one bare address.
    IF s !~ '[]["(),;:\\<>[:space:]]' THEN
        IF s ~ '^[^@]+@[^@]+$' THEN
            RETURN ARRAY[lower(s)];
        END IF;
        RETURN out;
    END IF;
    WHILE i <= n + 1 LOOP
        c := CASE WHEN i <= n THEN substr(s, i, 1) ELSE ',' END;
        IF i <= n AND (inquote OR inlit) THEN
            IF c = '\' AND i < n THEN
                c := c || substr(s, i + 1, 1);
                i := i + 1;
            ELSIF inquote AND c = '"' THEN
                inquote := false;
            ELSIF inlit AND c = ']' THEN
                inlit := false;
            END IF;
        ELSIF i <= n AND c = '(' THEN
            depth := 1;
            i := i + 1;
            WHILE i <= n AND depth > 0 LOOP
                c := substr(s, i, 1);
                IF c = '\' THEN
                    i := i + 1;
                ELSIF c = '(' THEN
                    depth := depth + 1;
                ELSIF c = ')' THEN
                    depth := depth - 1;
                END IF;
                i := i + 1;
            END LOOP;
            c := ' ';
            i := i - 1;
        ELSIF i <= n AND c = '"' THEN
            inquote := true;
        ELSIF i <= n AND c = '[' THEN
            inlit := true;
        ELSIF i <= n AND c = '<' AND NOT inangle THEN
            inangle := true;
            angle := '';
            c := '';
        ELSIF i <= n AND c = '>' AND inangle THEN
            inangle := false;
            c := '';
        ELSIF i <= n AND c = ':' AND NOT inangle THEN
            cur := '';  -- "group name:" ends
            c := '';
        ELSIF c IN (',', ';') AND (NOT inangle OR i > n) THEN
            spec := btrim(coalesce(angle, cur), E' \t\r\n');
            IF spec LIKE '@%' AND position(':' IN spec) > 0 THEN  -- a source route <@a,@b:x@y>
                spec := substr(spec, position(':' IN spec) + 1);
            END IF;
            at := length(spec) - position('@' IN reverse(spec)) + 1;
            IF position('@' IN spec) > 0 THEN
                loc := btrim(substr(spec, 1, at - 1), E' \t\r\n');
                dom := rtrim(regexp_replace(substr(spec, at + 1), '\s+', '', 'g'), '.');
                IF loc ~ '^".*"$' AND length(loc) >= 2 THEN
                    loc := regexp_replace(substr(loc, 2, length(loc) - 2), '\\(.)', '\1', 'g');
                    IF loc !~ '^[^][:space:][:cntrl:]"(),.:;<>@\\]+(\.[^][:space:][:cntrl:]"(),.:;<>@\\]+)*$' THEN
                        loc := '"' || replace(replace(loc, '\', '\\'), '"', '\"') || '"';
                    END IF;
                END IF;
                IF loc <> '' AND loc <> '""' AND dom <> '' THEN
                    out := out || lower(loc || '@' || dom);
                END IF;
            END IF;
            cur := '';
            angle := NULL;
            inangle := false;
            c := '';
        END IF;
        IF inangle AND angle IS NOT NULL AND c <> '' THEN
            angle := angle || c;
        ELSIF NOT inangle AND c <> '' THEN
            cur := cur || c;
        END IF;
        i := i + 1;
    END LOOP;
    RETURN out;
END
$$;

-- mailsync_email_addresses is every address an email names (from, to, cc
-- and the envelope), parsed, without duplicates.
CREATE FUNCTION mailsync_email_addresses(from_address text, to_addresses text[], cc_addresses text[],
                                         envelope_from text, envelope_to text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT a ORDER BY a), '{}')
    FROM unnest(ARRAY[from_address, envelope_from] || coalesce(to_addresses, '{}') || coalesce(cc_addresses, '{}')
                || coalesce(envelope_to, '{}')) AS v(x),
         unnest(mailsync_parse_addresses(v.x)) AS p(a)
$$;

-- addresses: what the erasure matcher compares. Kept by a trigger, so every
-- write path (ingest, raw mail, erasure, any later one) stores it.
ALTER TABLE incoming_emails ADD COLUMN addresses text[] NOT NULL DEFAULT '{}';

CREATE FUNCTION mailsync_set_addresses() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.addresses := mailsync_email_addresses(NEW.from_address, NEW.to_addresses, NEW.cc_addresses,
                                              NEW.envelope_from, NEW.envelope_to);
    RETURN NEW;
END
$$;

CREATE TRIGGER incoming_emails_addresses
    BEFORE INSERT OR UPDATE OF from_address, to_addresses, cc_addresses, envelope_from, envelope_to
    ON incoming_emails FOR EACH ROW EXECUTE FUNCTION mailsync_set_addresses();

-- The backfill: the emails stored before this migration.
UPDATE incoming_emails
SET addresses = mailsync_email_addresses(from_address, to_addresses, cc_addresses, envelope_from, envelope_to)
WHERE erased_at IS NULL;

-- mailsync_open_xids is the transactions in progress now, as an erasure
-- job notes them when it is requested. Those known to belong to another
-- database of the server are left out; one whose database cannot be seen
-- (another role's session) is kept.
CREATE FUNCTION mailsync_open_xids() RETURNS xid8[]
LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(x), '{}')
    FROM pg_snapshot_xip(pg_current_snapshot()) AS x
    WHERE x::xid NOT IN (SELECT a.backend_xid FROM pg_stat_activity a
                         WHERE a.backend_xid IS NOT NULL AND a.datname IS DISTINCT FROM current_database())
$$;

-- Jobs: the transactions in progress when the job was requested (its scope
-- waits for them), attempts without progress and the next one, when the
-- scope was fixed, and the keyed hash of the address (kept when the address
-- is cleared at the job's end).
ALTER TABLE erasure_jobs
    ADD COLUMN requested_xids  xid8[]      NOT NULL DEFAULT '{}',
    ADD COLUMN scoped_at       timestamptz,
    ADD COLUMN attempts        integer     NOT NULL DEFAULT 0,
    ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN address_hmac    text;

ALTER TABLE erasure_jobs DROP CONSTRAINT erasure_jobs_criteria_check;
ALTER TABLE erasure_jobs ADD CONSTRAINT erasure_jobs_criteria_check
    CHECK (address IS NOT NULL OR address_hmac IS NOT NULL OR mailbox IS NOT NULL OR received_before IS NOT NULL);

-- The emails an erasure job matches and has not erased yet: its address
-- among the email's parsed addresses (from, to, cc, envelope), its mailbox
-- exactly, received before its received_before. Criteria not given match
-- every email; a job whose address was cleared (it ended) matches none.
CREATE OR REPLACE VIEW erasure_job_emails AS
SELECT j.id AS job_id, e.id AS email_id
FROM erasure_jobs j
JOIN incoming_emails e ON e.erased_at IS NULL
    AND (j.address IS NOT NULL OR j.address_hmac IS NULL)
    AND (j.address IS NULL OR e.addresses @> ARRAY[j.address])
    AND (j.mailbox IS NULL OR e.mailbox = j.mailbox)
    AND (j.received_before IS NULL OR e.received_at < j.received_before);
