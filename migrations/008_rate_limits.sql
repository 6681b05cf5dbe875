-- Rate limits shared by every portal instance: one row per bucket (a
-- SHA-256 of "ip:<address>" or "session:<cookie hash>", never the raw
-- value), holding the bucket's theoretical arrival time (GCRA). One
-- INSERT … ON CONFLICT per limited request decides and records at once, so
-- two instances allow what one allows.
CREATE TABLE rate_limits (
    bucket  bytea       PRIMARY KEY CHECK (octet_length(bucket) = 32),
    tat     timestamptz NOT NULL
);
CREATE INDEX rate_limits_tat ON rate_limits (tat);
