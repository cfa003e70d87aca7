-- Whether the relay is paused: one row shared by every instance. While
-- paused, workers claim nothing (the claim statement checks this row);
-- ingest is unaffected.
CREATE TABLE relay_control (
    id           boolean PRIMARY KEY DEFAULT true CHECK (id),
    paused       boolean NOT NULL DEFAULT false,
    paused_since timestamptz,
    paused_by    text,
    reason       text
);
INSERT INTO relay_control (id) VALUES (true);
