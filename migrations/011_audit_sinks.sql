-- Audit streaming (issue 15): one row per configured sink, holding the id of
-- the last event the sink acknowledged. The trail's ids are gapless and
-- visible in order (audit_append serializes appends), so "every event after
-- last_id" is exactly what the sink still needs. A crash between delivering
-- a batch and advancing the cursor re-sends that batch: at least once.
CREATE TABLE audit_sink_cursors (
    name            text        PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    target          text        NOT NULL,          -- the sink URL without credentials, for people
    last_id         bigint      NOT NULL DEFAULT 0 CHECK (last_id >= 0),
    delivered_at    timestamptz,                   -- when last_id was acknowledged
    failures        bigint      NOT NULL DEFAULT 0, -- consecutive failed attempts, 0 once one succeeds
    last_error      text        NOT NULL DEFAULT '' CHECK (octet_length(last_error) <= 1024),
    last_error_at   timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
