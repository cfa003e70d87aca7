DROP TABLE IF EXISTS incoming_emails;
