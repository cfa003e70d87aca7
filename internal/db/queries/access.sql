-- name: GetEmailOwner :one
-- The API client that stored the email (also for a tombstone): what the
-- access rules compare an ingest key's client with.
SELECT client_id FROM incoming_emails WHERE id = @id;
