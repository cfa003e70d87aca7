-- name: InsertAuditEvent :exec
INSERT INTO audit_events (client_id, action, target, request_id, details)
VALUES (@client_id, @action, @target, @request_id, @details);

-- name: ListAuditEvents :many
-- Newest first; before_id is the keyset cursor (the last id of the previous page).
SELECT * FROM audit_events
WHERE (sqlc.narg(before_id)::bigint IS NULL OR id < sqlc.narg(before_id)::bigint)
ORDER BY id DESC
LIMIT @row_limit;
