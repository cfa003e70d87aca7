CREATE OR REPLACE FUNCTION email_status_counts_reset() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM email_status_counts;
    RETURN NULL;
END $$;
