-- incoming_emails.updated_at is true on every update, whoever makes it (the
-- relay's sync results, repairs, re-drives, patches): a row trigger sets it
-- to the time of the updating transaction.
CREATE FUNCTION incoming_emails_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

CREATE TRIGGER incoming_emails_touch_updated_at
    BEFORE UPDATE ON incoming_emails
    FOR EACH ROW EXECUTE FUNCTION incoming_emails_touch_updated_at();
