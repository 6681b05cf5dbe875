-- Key policies (issue 25): what security reviewers say a healthy key is,
-- globally (tenant_id '') with per-tenant overrides. In the global row NULL
-- and 0 both mean "no rule"; in a tenant's row NULL means "as the global
-- row" and 0 (false) lifts the rule for that tenant.
CREATE TABLE key_policies (
    tenant_id           text        PRIMARY KEY CHECK (octet_length(tenant_id) <= 200),
    max_age_days        integer     CHECK (max_age_days >= 0),
    max_idle_days       integer     CHECK (max_idle_days >= 0),
    max_active_per_user integer     CHECK (max_active_per_user >= 0),
    label_required      boolean,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    updated_by          text        NOT NULL DEFAULT ''
);

-- Violations of the age and idle rules, as Keyport saw them. One open row
-- (ended_at NULL) per key and rule: the unique index is what lets two
-- instances seeing the same list record a violation's start (and, by the
-- row lock of the UPDATE that ends it, its end) exactly once.
CREATE TABLE policy_violations (
    id              bigserial   PRIMARY KEY,
    region          text        NOT NULL,
    tenant_id       text        NOT NULL,
    access_key_id   text        NOT NULL,
    rule            text        NOT NULL CHECK (rule IN ('max_age', 'max_idle')),
    limit_days      integer     NOT NULL,
    started_at      timestamptz NOT NULL,   -- when Keyport first saw it ("as of" that sighting)
    ended_at        timestamptz
);
CREATE UNIQUE INDEX policy_violations_open ON policy_violations (region, tenant_id, access_key_id, rule)
    WHERE ended_at IS NULL;

-- Keys made outside Keyport, as Keyport first saw each (one row per key:
-- the primary key is what records the sighting once across instances).
CREATE TABLE outside_keys_seen (
    region          text        NOT NULL,
    tenant_id       text        NOT NULL,
    access_key_id   text        NOT NULL,
    seen_at         timestamptz NOT NULL,
    PRIMARY KEY (region, tenant_id, access_key_id)
);

-- When a sink (or notification target) started failing, kept by a trigger
-- from the failures counter (0 again once a delivery succeeds), and whether
-- that outage was recorded (audit.sink_failing, once per outage).
ALTER TABLE audit_sink_cursors ADD COLUMN failing_since timestamptz,
    ADD COLUMN failing_noted boolean NOT NULL DEFAULT false;
CREATE FUNCTION audit_sink_failing() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.failures = 0 THEN
        NEW.failing_since := NULL;
        NEW.failing_noted := false;
    ELSIF OLD.failures = 0 OR OLD.failing_since IS NULL THEN
        NEW.failing_since := coalesce(NEW.last_error_at, now());
        NEW.failing_noted := false;
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER audit_sink_failing BEFORE UPDATE ON audit_sink_cursors
    FOR EACH ROW EXECUTE FUNCTION audit_sink_failing();

-- The notifications' delivery log (the Integrity page): one row per message
-- a target accepted, a redelivery (at least once) being a second row.
CREATE TABLE notify_deliveries (
    id              bigserial   PRIMARY KEY,
    target          text        NOT NULL,   -- the target's name
    notification_id text        NOT NULL,
    event           text        NOT NULL,
    audit_event_id  bigint      NOT NULL,
    delivered_at    timestamptz NOT NULL
);
CREATE INDEX notify_deliveries_at ON notify_deliveries (delivered_at DESC, id DESC);

-- Setting a policy, a violation's start and end, a key made outside
-- Keyport first seen and a sink failing too long are audited.
ALTER TABLE audit_events DROP CONSTRAINT audit_events_action_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_action_check CHECK (action IN (
    'connect', 'disconnect', 'token.refresh',
    'key.list', 'key.create', 'key.activate', 'key.deactivate', 'key.delete',
    'key.verify', 'key.lookup', 'key.reconcile', 'key.rotate',
    'auditor.add', 'auditor.disable', 'auditor.enable', 'auditor.reset_password',
    'auditor.login', 'auditor.logout',
    'audit.view', 'audit.export', 'audit.verify', 'audit.checkpoint', 'audit.seed', 'audit.archive',
    'keys.rekey',
    'policy.set', 'policy.violation', 'policy.resolved', 'key.seen_outside', 'audit.sink_failing')) NOT VALID;

---- create above / drop below ----
ALTER TABLE audit_events DROP CONSTRAINT audit_events_action_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_action_check CHECK (action IN (
    'connect', 'disconnect', 'token.refresh',
    'key.list', 'key.create', 'key.activate', 'key.deactivate', 'key.delete',
    'key.verify', 'key.lookup', 'key.reconcile', 'key.rotate',
    'auditor.add', 'auditor.disable', 'auditor.enable', 'auditor.reset_password',
    'auditor.login', 'auditor.logout',
    'audit.view', 'audit.export', 'audit.verify', 'audit.checkpoint', 'audit.seed', 'audit.archive',
    'keys.rekey')) NOT VALID;
DROP TRIGGER audit_sink_failing ON audit_sink_cursors;
DROP FUNCTION audit_sink_failing();
ALTER TABLE audit_sink_cursors DROP COLUMN failing_noted, DROP COLUMN failing_since;
DROP TABLE notify_deliveries;
DROP TABLE outside_keys_seen;
DROP TABLE policy_violations;
DROP TABLE key_policies;
