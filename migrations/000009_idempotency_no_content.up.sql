-- Idempotency records keep the status and the resource id of the response,
-- never a copy of its content: a replay renders the email from its row, so
-- an erased email is never replayed from a cached body.
ALTER TABLE idempotency_keys DROP COLUMN response_body;

-- The fingerprint of the request that stored each email, so a retry after
-- its key record expired is matched by its request, not by the content
-- hash (which a PATCH changes). Backfilled from the key records still held;
-- older emails keep NULL and are matched by content hash as before.
ALTER TABLE incoming_emails ADD COLUMN request_fingerprint text;

UPDATE incoming_emails e
SET request_fingerprint = k.request_fingerprint
FROM idempotency_keys k
WHERE k.client_id = e.client_id AND k.key = e.idempotency_key AND k.resource_id = e.id
  AND e.erased_at IS NULL;
