-- The audit trail: append-only, hash-chained, checkpointed.
--
-- Every row's hash is sha256(prev_hash || canonical_v1(row)); the canonical
-- encoding is audit_canonical_v1 below and is re-implemented in Go
-- (internal/audit) so `keyport audit verify` checks it independently.
-- Appends go through audit_append(), which serializes writers with a
-- transaction-scoped advisory lock, so the chain is linear even with many
-- portal instances on one database, and ids are gapless.

CREATE TABLE audit_events (
    id              bigint      PRIMARY KEY,
    occurred_at     timestamptz NOT NULL,
    actor_kind      text        NOT NULL CHECK (actor_kind IN ('admin', 'auditor', 'system')),
    actor_user_id   text        NOT NULL DEFAULT '',
    actor_name      text        NOT NULL DEFAULT '',
    tenant_id       text        NOT NULL DEFAULT '',
    tenant_name     text        NOT NULL DEFAULT '',
    region          text        NOT NULL DEFAULT '',
    session_hash    text        NOT NULL DEFAULT '',
    client_ip       text        NOT NULL DEFAULT '',
    user_agent      text        NOT NULL DEFAULT '' CHECK (octet_length(user_agent) <= 256),
    action          text        NOT NULL CHECK (action IN (
                        'connect', 'disconnect', 'token.refresh',
                        'key.list', 'key.create', 'key.activate', 'key.deactivate', 'key.delete',
                        'key.verify', 'key.lookup', 'key.reconcile', 'key.rotate',
                        'auditor.add', 'auditor.disable', 'auditor.enable', 'auditor.reset_password',
                        'auditor.login', 'auditor.logout',
                        'audit.view', 'audit.export', 'audit.verify', 'audit.checkpoint', 'audit.seed')),
    target_key_id   text        NOT NULL DEFAULT '',
    outcome         text        NOT NULL CHECK (outcome IN ('intent', 'success', 'failure', 'unknown', 'denied')),
    upstream_status integer,
    error_message   text        NOT NULL DEFAULT '' CHECK (octet_length(error_message) <= 1024),
    request_id      text        NOT NULL DEFAULT '',
    intent_id       bigint      REFERENCES audit_events (id),
    details         jsonb       NOT NULL DEFAULT '{}' CHECK (octet_length(details::text) <= 8192),
    hash_version    smallint    NOT NULL DEFAULT 1,
    prev_hash       bytea       NOT NULL CHECK (octet_length(prev_hash) = 32),
    hash            bytea       NOT NULL CHECK (octet_length(hash) = 32),
    -- an intent opens an action; outcomes point back at their intent
    CHECK (outcome <> 'intent' OR intent_id IS NULL)
);

-- The reviewer's queries: newest first overall, per tenant, per key, per
-- actor, per action; each ends in id so keyset pagination is an index scan.
CREATE INDEX audit_events_time ON audit_events (occurred_at DESC, id DESC);
CREATE INDEX audit_events_tenant_time ON audit_events (tenant_id, occurred_at DESC, id DESC);
CREATE INDEX audit_events_key ON audit_events (target_key_id, id DESC) WHERE target_key_id <> '';
CREATE INDEX audit_events_actor ON audit_events (actor_user_id, id DESC);
CREATE INDEX audit_events_action ON audit_events (action, id DESC);
CREATE INDEX audit_events_outcome ON audit_events (outcome, id DESC) WHERE outcome IN ('failure', 'unknown', 'denied');
CREATE INDEX audit_events_request ON audit_events (request_id) WHERE request_id <> '';
CREATE INDEX audit_events_intent ON audit_events (intent_id) WHERE intent_id IS NOT NULL;

-- Signed checkpoints: (last id, last hash, count, time) with an HMAC whose key
-- never enters the database, so truncating the tail or rewriting the whole
-- chain is detectable.
CREATE TABLE audit_checkpoints (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at    timestamptz NOT NULL,
    last_event_id bigint      NOT NULL,
    last_hash     bytea       NOT NULL CHECK (octet_length(last_hash) = 32),
    event_count   bigint      NOT NULL,
    mac           bytea       NOT NULL CHECK (octet_length(mac) = 32)
);

-- Immutability is the database's job, not the application's good manners:
-- these triggers fire for every role, the owner and superusers included.
CREATE FUNCTION audit_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit tables are append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_reject_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change();
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_reject_change();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change();

-- audit_field_v1 encodes one value: NULL as '~', anything else as
-- <octet length>:<text>, so no value can imitate a field boundary.
-- PL/pgSQL rather than SQL: a SQL function that cannot be inlined is
-- re-planned on every call, which tripled the cost of an append.
CREATE FUNCTION audit_field_v1(v text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF v IS NULL THEN
        RETURN '~';
    END IF;
    RETURN octet_length(v)::text || ':' || v;
END;
$$;

CREATE FUNCTION audit_canonical_v1(
    p_id bigint, p_occurred_at timestamptz, p_actor_kind text, p_actor_user_id text, p_actor_name text,
    p_tenant_id text, p_tenant_name text, p_region text, p_session_hash text, p_client_ip text,
    p_user_agent text, p_action text, p_target_key_id text, p_outcome text, p_upstream_status integer,
    p_error_message text, p_request_id text, p_intent_id bigint, p_details jsonb
) RETURNS bytea LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN convert_to('keyport-audit-v1'
        || audit_field_v1(p_id::text)
        || audit_field_v1(((extract(epoch FROM p_occurred_at) * 1000000)::bigint)::text)
        || audit_field_v1(p_actor_kind) || audit_field_v1(p_actor_user_id) || audit_field_v1(p_actor_name)
        || audit_field_v1(p_tenant_id) || audit_field_v1(p_tenant_name) || audit_field_v1(p_region)
        || audit_field_v1(p_session_hash) || audit_field_v1(p_client_ip) || audit_field_v1(p_user_agent)
        || audit_field_v1(p_action) || audit_field_v1(p_target_key_id) || audit_field_v1(p_outcome)
        || audit_field_v1(p_upstream_status::text) || audit_field_v1(p_error_message)
        || audit_field_v1(p_request_id) || audit_field_v1(p_intent_id::text)
        || audit_field_v1(p_details::text), 'UTF8');
END;
$$;

-- audit_append is the only way events are written. One statement, so an
-- append is one round trip; the advisory lock is held until the caller's
-- transaction commits, which keeps the chain linear across instances.
CREATE FUNCTION audit_append(
    p_actor_kind text, p_actor_user_id text, p_actor_name text, p_tenant_id text, p_tenant_name text,
    p_region text, p_session_hash text, p_client_ip text, p_user_agent text, p_action text,
    p_target_key_id text, p_outcome text, p_upstream_status integer, p_error_message text,
    p_request_id text, p_intent_id bigint, p_details jsonb,
    OUT event_id bigint, OUT event_hash bytea, OUT event_time timestamptz
) LANGUAGE plpgsql AS $$
DECLARE
    prev_id   bigint;
    prev_hash bytea;
BEGIN
    PERFORM pg_advisory_xact_lock(7201540863219452001);
    SELECT e.id, e.hash INTO prev_id, prev_hash FROM audit_events e ORDER BY e.id DESC LIMIT 1;
    IF prev_id IS NULL THEN
        prev_id := 0;
        prev_hash := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
    END IF;
    event_id := prev_id + 1;
    event_time := date_trunc('microseconds', clock_timestamp());
    event_hash := sha256(prev_hash || audit_canonical_v1(event_id, event_time, p_actor_kind, p_actor_user_id,
        p_actor_name, p_tenant_id, p_tenant_name, p_region, p_session_hash, p_client_ip, p_user_agent,
        p_action, p_target_key_id, p_outcome, p_upstream_status, p_error_message, p_request_id,
        p_intent_id, p_details));
    INSERT INTO audit_events (id, occurred_at, actor_kind, actor_user_id, actor_name, tenant_id, tenant_name,
        region, session_hash, client_ip, user_agent, action, target_key_id, outcome, upstream_status,
        error_message, request_id, intent_id, details, hash_version, prev_hash, hash)
    VALUES (event_id, event_time, p_actor_kind, p_actor_user_id, p_actor_name, p_tenant_id, p_tenant_name,
        p_region, p_session_hash, p_client_ip, p_user_agent, p_action, p_target_key_id, p_outcome,
        p_upstream_status, p_error_message, p_request_id, p_intent_id, p_details, 1, prev_hash, event_hash);
END;
$$;

---- create above / drop below ----
DROP FUNCTION audit_append;
DROP FUNCTION audit_canonical_v1;
DROP FUNCTION audit_field_v1;
DROP TABLE audit_checkpoints;
DROP TABLE audit_events;
DROP FUNCTION audit_reject_change;
