DROP TRIGGER IF EXISTS incoming_emails_touch_updated_at ON incoming_emails;
DROP FUNCTION IF EXISTS incoming_emails_touch_updated_at();
