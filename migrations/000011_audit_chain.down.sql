DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events;
DROP TRIGGER IF EXISTS audit_events_guard ON audit_events;
DROP TRIGGER IF EXISTS audit_events_append ON audit_events;
DROP FUNCTION IF EXISTS audit_events_no_truncate();
DROP FUNCTION IF EXISTS audit_events_guard();
DROP FUNCTION IF EXISTS audit_events_append();
DROP INDEX IF EXISTS audit_events_target_idx;
DROP INDEX IF EXISTS audit_events_client_idx;
DROP INDEX IF EXISTS audit_events_action_idx;
DROP INDEX IF EXISTS audit_events_seq_idx;
ALTER TABLE audit_events
    DROP COLUMN IF EXISTS hash,
    DROP COLUMN IF EXISTS prev_hash,
    DROP COLUMN IF EXISTS details_hash,
    DROP COLUMN IF EXISTS seq;
DROP FUNCTION IF EXISTS audit_event_hash(bytea, bigint, timestamptz, text, text, text, text, bytea);
DROP TABLE IF EXISTS audit_checkpoints;
DROP TABLE IF EXISTS audit_chain;
