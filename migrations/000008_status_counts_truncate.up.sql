-- TRUNCATE incoming_emails empties the counters with TRUNCATE, not DELETE:
-- a DELETE leaves every page of the table behind (a burst of writes can
-- leave thousands), and VACUUM cannot give them back while the row the next
-- statement appends sits at the end, so every status read kept scanning
-- them (50 ms per GET /v1/sync/status after a burst and a reset, instead
-- of 1 ms).
CREATE OR REPLACE FUNCTION email_status_counts_reset() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE email_status_counts;
    RETURN NULL;
END $$;
