-- Security reviewers (issue 7): their accounts, the sign-in throttle, the
-- integrity panel's verify runs, a per-day rollup for the activity chart,
-- and the indexes the event list's filters need.

-- A reviewer signs in to Keyport itself (no CXone account). password_hash is
-- an encoded argon2id hash ($argon2id$v=19$m=…,t=…,p=…$salt$hash), so its
-- parameters can be raised later without a migration. totp_sealed is the
-- TOTP secret sealed under KEYPORT_ENCRYPTION_KEY (purpose "totp", bound to
-- the username); totp_last_step stops a code being replayed.
CREATE TABLE auditors (
    username       text        PRIMARY KEY CHECK (username ~ '^[a-z0-9][a-z0-9._@-]{0,63}$'),
    password_hash  text        NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    totp_sealed    bytea,
    totp_last_step bigint      NOT NULL DEFAULT 0,
    disabled       boolean     NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    last_login_at  timestamptz
);

-- Failed sign-ins, one row per account name tried ('user:<name>', whether
-- or not the account exists, so a lock-out says nothing about existence)
-- and per client address ('ip:<addr>'). Shared by every portal instance.
CREATE TABLE auditor_throttle (
    key          text        PRIMARY KEY CHECK (octet_length(key) <= 200),
    failures     integer     NOT NULL,
    window_start timestamptz NOT NULL,
    locked_until timestamptz
);

-- Runs of "verify now" from the integrity panel. At most one runs at a time;
-- a run whose heartbeat stopped (its instance died) is marked abandoned by
-- the next start.
CREATE TABLE audit_verify_runs (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at   timestamptz NOT NULL,
    started_by   text        NOT NULL,
    heartbeat_at timestamptz NOT NULL,
    finished_at  timestamptz,
    status       text        NOT NULL CHECK (status IN ('running', 'verified', 'broken', 'error', 'abandoned')),
    events       bigint      NOT NULL DEFAULT 0,
    total        bigint      NOT NULL DEFAULT 0,
    result       text        NOT NULL DEFAULT '' CHECK (octet_length(result) <= 2000)
);
CREATE UNIQUE INDEX audit_verify_runs_one_running ON audit_verify_runs ((true)) WHERE status = 'running';

-- Events per UTC day and outcome, for the activity chart: counting 30 days
-- of a 10 M event trail on every page view would read millions of rows.
-- A statement trigger with a transition table adds each statement's rows
-- (one for audit_append, a batch for COPY), inside the appending
-- transaction, which audit_append's advisory lock already serializes. It is
-- a cache derived from the chain, not part of it.
CREATE TABLE audit_daily_counts (
    day     date   NOT NULL,
    outcome text   NOT NULL,
    events  bigint NOT NULL,
    PRIMARY KEY (day, outcome)
);

CREATE FUNCTION audit_count_days() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_daily_counts (day, outcome, events)
    SELECT (n.occurred_at AT TIME ZONE 'UTC')::date, n.outcome, count(*) FROM new_events n GROUP BY 1, 2
    ON CONFLICT (day, outcome) DO UPDATE SET events = audit_daily_counts.events + EXCLUDED.events;
    RETURN NULL;
END;
$$;

CREATE TRIGGER audit_events_count_days AFTER INSERT ON audit_events
    REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION audit_count_days();

INSERT INTO audit_daily_counts (day, outcome, events)
SELECT (occurred_at AT TIME ZONE 'UTC')::date, outcome, count(*) FROM audit_events GROUP BY 1, 2;

-- The event list orders by id (the chain's order) and pages by id, so each
-- filter wants an index ending in id. 002 has them for key, actor, action,
-- outcome; the tenant index there ends in time, and area had none.
CREATE INDEX audit_events_tenant_id ON audit_events (tenant_id, id DESC);
CREATE INDEX audit_events_region_id ON audit_events (region, id DESC);

---- create above / drop below ----
DROP INDEX audit_events_region_id;
DROP INDEX audit_events_tenant_id;
DROP TRIGGER audit_events_count_days ON audit_events;
DROP FUNCTION audit_count_days;
DROP TABLE audit_daily_counts;
DROP TABLE audit_verify_runs;
DROP TABLE auditor_throttle;
DROP TABLE auditors;
