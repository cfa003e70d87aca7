-- name: InsertAuditEvent :exec
-- The audit_events_append trigger gives the row its place in the chain.
INSERT INTO audit_events (client_id, action, target, request_id, details)
VALUES (@client_id, @action, @target, @request_id, @details);

-- name: ListAuditEvents :many
-- Newest first; before_id is the keyset cursor (the last id of the previous
-- page). Each filter applies when set: after and before bound at
-- (after <= at < before).
SELECT * FROM audit_events
WHERE (sqlc.narg(before_id)::bigint IS NULL OR id < sqlc.narg(before_id)::bigint)
  AND (sqlc.narg(action)::text IS NULL OR action = sqlc.narg(action)::text)
  AND (sqlc.narg(client_id)::text IS NULL OR client_id = sqlc.narg(client_id)::text)
  AND (sqlc.narg(target)::text IS NULL OR target = sqlc.narg(target)::text)
  AND (sqlc.narg(after)::timestamptz IS NULL OR at >= sqlc.narg(after)::timestamptz)
  AND (sqlc.narg(before)::timestamptz IS NULL OR at < sqlc.narg(before)::timestamptz)
ORDER BY id DESC
LIMIT @row_limit;

-- name: AuditChainState :one
SELECT head_seq, head_hash, pruned_seq, pruned_hash FROM audit_chain;

-- name: AuditChainPage :many
-- The chain in order, after the keyset (after_seq, after_id), with the
-- details as the canonical jsonb text their hash is computed over.
SELECT id, seq, at, client_id, action, target, request_id, details::text AS details_text,
       details_hash, prev_hash, hash
FROM audit_events
WHERE (seq, id) > (@after_seq::bigint, @after_id::bigint)
ORDER BY seq, id
LIMIT @row_limit;

-- name: AdvanceAuditPrune :one
-- Moves the pruned prefix forward over up to row_limit rows written before
-- before, stopping at the first row that is not, and returns the new
-- pruned_seq (no row when nothing is to be pruned).
WITH c AS (
    SELECT pruned_seq FROM audit_chain FOR UPDATE
), batch AS (
    SELECT e.seq, e.hash, e.at FROM audit_events e, c
    WHERE e.seq > c.pruned_seq
    ORDER BY e.seq
    LIMIT @row_limit
), stop AS (
    SELECT min(seq) AS seq FROM batch WHERE at >= @before
), last AS (
    SELECT b.seq, b.hash FROM batch b, stop
    WHERE stop.seq IS NULL OR b.seq < stop.seq
    ORDER BY b.seq DESC
    LIMIT 1
)
UPDATE audit_chain SET pruned_seq = last.seq, pruned_hash = last.hash
FROM last
RETURNING audit_chain.pruned_seq;

-- name: DeletePrunedAuditEvents :execrows
DELETE FROM audit_events WHERE seq <= (SELECT pruned_seq FROM audit_chain);

-- name: LockAuditChainHead :one
-- Holds the chain's lock until the transaction ends: no event is appended
-- meanwhile.
SELECT head_seq, head_hash FROM audit_chain FOR UPDATE;

-- name: LatestAuditCheckpoint :one
SELECT * FROM audit_checkpoints ORDER BY id DESC LIMIT 1;

-- name: InsertAuditCheckpoint :one
INSERT INTO audit_checkpoints (seq, hash, at, key_name, note)
VALUES (@seq, @hash, @at, @key_name, @note)
RETURNING *;

-- name: ListAuditCheckpoints :many
-- Newest first; before_id is the keyset cursor.
SELECT * FROM audit_checkpoints
WHERE (sqlc.narg(before_id)::bigint IS NULL OR id < sqlc.narg(before_id)::bigint)
ORDER BY id DESC
LIMIT @row_limit;
