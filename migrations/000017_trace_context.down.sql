ALTER TABLE incoming_emails DROP COLUMN IF EXISTS trace_id;
ALTER TABLE outbox_messages
    DROP COLUMN IF EXISTS tracestate,
    DROP COLUMN IF EXISTS traceparent;
