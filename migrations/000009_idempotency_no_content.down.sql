-- The cached response bodies are not restored (they were never kept): a
-- replay of a key recorded after the up migration answers its status with
-- an empty body until the key expires.
ALTER TABLE incoming_emails DROP COLUMN IF EXISTS request_fingerprint;
ALTER TABLE idempotency_keys ADD COLUMN IF NOT EXISTS response_body bytea;
