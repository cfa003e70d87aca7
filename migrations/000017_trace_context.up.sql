-- The W3C trace context of the request that enqueued an outbox row, so the
-- relay's span for the row links to it (also when another instance relays
-- it, or after a retry), and the trace id of the request that stored an
-- email. NULL when tracing was off. Nullable columns without a default: a
-- change of the catalog only, no table rewrite.
ALTER TABLE outbox_messages
    ADD COLUMN traceparent text,
    ADD COLUMN tracestate text;
ALTER TABLE incoming_emails
    ADD COLUMN trace_id text;
