-- name: GetRelayControl :one
SELECT paused, paused_since, paused_by, reason FROM relay_control WHERE id;

-- name: SetRelayPaused :one
-- Pauses (paused true) or resumes the relay. Pausing an already paused relay
-- keeps its first paused_since and paused_by; resuming clears them. Returns
-- the state before the change.
WITH before AS (
    SELECT paused AS was_paused FROM relay_control WHERE id FOR UPDATE
)
UPDATE relay_control
SET paused = @paused::bool,
    paused_since = CASE WHEN NOT @paused::bool THEN NULL
                        WHEN relay_control.paused THEN relay_control.paused_since ELSE now() END,
    paused_by = CASE WHEN NOT @paused::bool THEN NULL
                     WHEN relay_control.paused THEN relay_control.paused_by ELSE @by::text END,
    reason = CASE WHEN NOT @paused::bool THEN NULL
                  WHEN relay_control.paused THEN coalesce(sqlc.narg(reason)::text, relay_control.reason)
                  ELSE sqlc.narg(reason)::text END
FROM before
WHERE relay_control.id
RETURNING before.was_paused, relay_control.paused, relay_control.paused_since, relay_control.paused_by, relay_control.reason;
