-- The trail for years (issue 24): audit_events becomes a table partitioned
-- by UTC month of occurred_at, so old months can be archived and dropped
-- whole, and a month's reads touch one partition. Why occurred_at and not
-- id ranges: a month's first id is unknown until that month's first append,
-- so id partitions could not be created ahead; a month is a pure function
-- of time. The cost: PostgreSQL needs the partition key in every unique
-- index, so the primary key is (id, occurred_at), and id's uniqueness rests
-- where it always did, on audit_append's lock (gapless ids) and verify
-- (a duplicate or a gap breaks the chain). The self-reference intent_id →
-- id cannot be a foreign key any more (no unique index on id alone, and an
-- archived month's rows must be droppable); audit_append checks it instead.
--
-- The existing trail is copied in place into the new table, row for row,
-- so every hash still verifies; the per-day rollup is not touched.

ALTER TABLE audit_events RENAME TO audit_events_old;
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
             WHERE i.indrelid = 'audit_events_old'::regclass LOOP
        EXECUTE format('ALTER INDEX %I RENAME TO %I', r.relname, r.relname || '_old');
    END LOOP;
END;
$$;

CREATE TABLE audit_events (LIKE audit_events_old INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
    PARTITION BY RANGE (occurred_at);
ALTER TABLE audit_events DROP CONSTRAINT audit_events_action_check, ADD CONSTRAINT audit_events_action_check CHECK (action IN (
    'connect', 'disconnect', 'token.refresh',
    'key.list', 'key.create', 'key.activate', 'key.deactivate', 'key.delete',
    'key.verify', 'key.lookup', 'key.reconcile', 'key.rotate',
    'auditor.add', 'auditor.disable', 'auditor.enable', 'auditor.reset_password',
    'auditor.login', 'auditor.logout',
    'audit.view', 'audit.export', 'audit.verify', 'audit.checkpoint', 'audit.seed', 'audit.archive',
    'keys.rekey'));

-- Statement triggers do not reach partitions, so each partition gets its
-- own TRUNCATE refusal (row triggers on the parent are cloned to every
-- partition by PostgreSQL itself).
CREATE FUNCTION audit_create_month(p_month timestamptz) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    lo   timestamptz := date_trunc('month', p_month AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    name text := 'audit_events_' || to_char(lo AT TIME ZONE 'UTC', 'YYYY_MM');
BEGIN
    IF to_regclass(name) IS NOT NULL THEN
        RETURN;
    END IF;
    EXECUTE format('CREATE TABLE %I PARTITION OF audit_events FOR VALUES FROM (%L) TO (%L)',
        name, lo, lo + interval '1 month');
    EXECUTE format('CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON %I
        FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change()', name);
END;
$$;

-- audit_ensure_partitions creates every missing month from p_from's to
-- p_to's and returns the end of p_to's month. The portal calls it at start
-- and daily for the months ahead; audit_append calls it (once a month per
-- session) if a month was somehow not created ahead, so an append never
-- fails for want of a partition. SECURITY DEFINER: the portal's role
-- needs no CREATE right.
CREATE FUNCTION audit_ensure_partitions(p_from timestamptz, p_to timestamptz) RETURNS timestamptz
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    m  timestamptz := date_trunc('month', p_from AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    hi timestamptz := date_trunc('month', p_to AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
BEGIN
    -- Any role may call it (audit_append does): no months far ahead, no
    -- centuries of empty ones.
    IF hi - m > interval '100 years' OR p_to > now() + interval '13 months' THEN
        RAISE EXCEPTION 'audit_ensure_partitions: % to % is not a plausible range', p_from, p_to;
    END IF;
    WHILE m <= hi LOOP
        IF to_regclass('audit_events_' || to_char(m AT TIME ZONE 'UTC', 'YYYY_MM')) IS NULL THEN
            -- instances starting together: one creates, the others find it
            PERFORM pg_advisory_xact_lock(7201540863219452002);
            PERFORM audit_create_month(m);
        END IF;
        m := m + interval '1 month';
    END LOOP;
    RETURN hi + interval '1 month';
END;
$$;

DO $$
DECLARE lo timestamptz; hi timestamptz;
BEGIN
    SELECT min(occurred_at), max(occurred_at) INTO lo, hi FROM audit_events_old;
    PERFORM audit_ensure_partitions(least(coalesce(lo, now()), now()), greatest(coalesce(hi, now()), now() + interval '1 month'));
END;
$$;

INSERT INTO audit_events SELECT * FROM audit_events_old;

-- Privileges granted on the old table (docs/security.md) carry over.
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT grantee, privilege_type FROM information_schema.role_table_grants
             WHERE table_schema = current_schema() AND table_name = 'audit_events_old'
               AND grantee <> current_user LOOP
        EXECUTE format('GRANT %s ON audit_events TO %I', r.privilege_type, r.grantee);
    END LOOP;
END;
$$;

DROP TABLE audit_events_old;

ALTER TABLE audit_events ADD CONSTRAINT audit_events_pkey PRIMARY KEY (id, occurred_at);
CREATE INDEX audit_events_time ON audit_events (occurred_at DESC, id DESC);
CREATE INDEX audit_events_tenant_time ON audit_events (tenant_id, occurred_at DESC, id DESC);
CREATE INDEX audit_events_key ON audit_events (target_key_id, id DESC) WHERE target_key_id <> '';
CREATE INDEX audit_events_actor ON audit_events (actor_user_id, id DESC);
CREATE INDEX audit_events_action ON audit_events (action, id DESC);
CREATE INDEX audit_events_outcome ON audit_events (outcome, id DESC) WHERE outcome IN ('failure', 'unknown', 'denied');
CREATE INDEX audit_events_request ON audit_events (request_id) WHERE request_id <> '';
CREATE INDEX audit_events_intent ON audit_events (intent_id) WHERE intent_id IS NOT NULL;
CREATE INDEX audit_events_tenant_id ON audit_events (tenant_id, id DESC);
CREATE INDEX audit_events_region_id ON audit_events (region, id DESC);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_reject_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change();
CREATE TRIGGER audit_events_count_days AFTER INSERT ON audit_events
    REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION audit_count_days();

-- audit_append as before, plus: the intent it names must exist (the foreign
-- key's job until now), and the month's partition is made sure of once per
-- session and month.
CREATE OR REPLACE FUNCTION audit_append(
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
        -- the first event, or every earlier one archived: link to the last archived
        SELECT a.last_id, a.last_hash INTO prev_id, prev_hash FROM audit_archives a ORDER BY a.last_id DESC LIMIT 1;
    END IF;
    IF prev_id IS NULL THEN
        prev_id := 0;
        prev_hash := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
    END IF;
    IF p_intent_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM audit_events e WHERE e.id = p_intent_id) THEN
        RAISE EXCEPTION 'audit_append: intent % does not exist', p_intent_id USING ERRCODE = 'foreign_key_violation';
    END IF;
    event_id := prev_id + 1;
    event_time := date_trunc('microseconds', clock_timestamp());
    IF event_time >= coalesce(nullif(current_setting('keyport.audit_partitions_until', true), '')::timestamptz, '-infinity') THEN
        PERFORM set_config('keyport.audit_partitions_until', audit_ensure_partitions(event_time, event_time)::text, false);
    END IF;
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

-- Archived months (keyport audit archive): what each held, so the live
-- trail's first event can be checked against the last archived hash and
-- verify knows where the live trail starts. Append-only like the trail.
CREATE TABLE audit_archives (
    partition     text        PRIMARY KEY CHECK (partition ~ '^audit_events_[0-9]{4}_[0-9]{2}$'),
    archived_at   timestamptz NOT NULL,
    first_id      bigint      NOT NULL,
    last_id       bigint      NOT NULL,
    first_prev    bytea       NOT NULL CHECK (octet_length(first_prev) = 32),
    last_hash     bytea       NOT NULL CHECK (octet_length(last_hash) = 32),
    event_count   bigint      NOT NULL,
    file_sha256   bytea       NOT NULL CHECK (octet_length(file_sha256) = 32),
    checkpoint_id bigint      NOT NULL,
    event_id      bigint      NOT NULL  -- the audit.archive event recording it
);
-- audit_append reads it (as the portal's role) when every event is archived.
GRANT SELECT ON audit_archives TO PUBLIC;
CREATE TRIGGER audit_archives_no_update BEFORE UPDATE OR DELETE ON audit_archives
    FOR EACH ROW EXECUTE FUNCTION audit_reject_change();
CREATE TRIGGER audit_archives_no_truncate BEFORE TRUNCATE ON audit_archives
    FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change();

-- What earlier verifications established (issue 24, incremental verify):
-- "the chain up to this signed checkpoint verified", with an HMAC under a
-- key derived from the audit key, so a row cannot be forged in the
-- database. `keyport audit verify` and the background verify start from
-- the newest row they can trust unless asked for --full. Deleting rows
-- only makes the next run a full one.
CREATE TABLE audit_verifications (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    verified_at   timestamptz NOT NULL,
    checkpoint_id bigint      NOT NULL,
    last_event_id bigint      NOT NULL,
    last_hash     bytea       NOT NULL CHECK (octet_length(last_hash) = 32),
    full_run      boolean     NOT NULL,
    mac           bytea       NOT NULL CHECK (octet_length(mac) = 32)
);

-- audit_archive_month is the one way a month leaves the database. In one
-- transaction it checks the partition holds exactly what the caller wrote
-- and verified (first and last id and hash, count), that it is the oldest
-- live month and a month already over, records it in audit_archives,
-- appends an audit.archive event, and only then detaches and drops the
-- partition. The event triggers below refuse a DETACH or DROP of an audit
-- partition unless this transaction has written that partition's
-- audit_archives row, and the setting they also check is set here only.
-- Not executable by PUBLIC: the archive command runs as the tables' owner.
CREATE FUNCTION audit_archive_month(p_partition text, p_first_id bigint, p_last_id bigint, p_first_prev bytea,
    p_last_hash bytea, p_count bigint, p_file_sha256 bytea, p_checkpoint_id bigint, p_details jsonb)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    month   timestamptz;
    v_first bigint; v_last bigint; v_count bigint; v_prev bytea; v_hash bytea; v_min bigint;
    v_event bigint;
BEGIN
    IF p_partition !~ '^audit_events_[0-9]{4}_[0-9]{2}$' OR NOT EXISTS (
        SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass(p_partition) AND inhparent = 'audit_events'::regclass) THEN
        RAISE EXCEPTION 'audit_archive_month: % is not a month of audit_events', p_partition;
    END IF;
    month := (to_char(to_timestamp(right(p_partition, 7), 'YYYY_MM'), 'YYYY-MM-01') || ' 00:00:00+00')::timestamptz;
    IF month + interval '1 month' > date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' THEN
        RAISE EXCEPTION 'audit_archive_month: % is not over yet', p_partition;
    END IF;
    PERFORM pg_advisory_xact_lock(7201540863219452001);
    EXECUTE format('SELECT min(id), max(id), count(*) FROM %I', p_partition) INTO v_first, v_last, v_count;
    SELECT min(id) INTO v_min FROM audit_events;
    IF v_first IS DISTINCT FROM p_first_id OR v_last IS DISTINCT FROM p_last_id OR v_count <> p_count
       OR v_count <> v_last - v_first + 1 OR v_min IS DISTINCT FROM v_first THEN
        RAISE EXCEPTION 'audit_archive_month: % holds events % to % (% events, oldest live %), not what was archived',
            p_partition, v_first, v_last, v_count, v_min;
    END IF;
    EXECUTE format('SELECT prev_hash FROM %I WHERE id = $1', p_partition) INTO v_prev USING v_first;
    EXECUTE format('SELECT hash FROM %I WHERE id = $1', p_partition) INTO v_hash USING v_last;
    IF v_prev <> p_first_prev OR v_hash <> p_last_hash THEN
        RAISE EXCEPTION 'audit_archive_month: % does not hash as archived', p_partition;
    END IF;
    SELECT a.event_id INTO v_event FROM audit_append('system', '', 'keyport audit archive', '', '', '', '', '', '',
        'audit.archive', '', 'success', NULL, '', '', NULL, p_details || jsonb_build_object(
            'partition', p_partition, 'first_id', v_first, 'last_id', v_last, 'count', v_count,
            'last_hash', encode(v_hash, 'hex'), 'sha256', encode(p_file_sha256, 'hex'),
            'checkpoint_id', p_checkpoint_id)) a;
    INSERT INTO audit_archives (partition, archived_at, first_id, last_id, first_prev, last_hash, event_count,
        file_sha256, checkpoint_id, event_id)
    VALUES (p_partition, now(), v_first, v_last, v_prev, v_hash, v_count, p_file_sha256, p_checkpoint_id, v_event);
    PERFORM set_config('keyport.audit_archive', p_partition, true);
    EXECUTE format('ALTER TABLE audit_events DETACH PARTITION %I', p_partition);
    EXECUTE format('DROP TABLE %I', p_partition);
    PERFORM set_config('keyport.audit_archive', '', true);
    RETURN v_event;
END;
$$;
REVOKE EXECUTE ON FUNCTION audit_archive_month FROM PUBLIC;

-- Whether this transaction may detach or drop partition p: the archive
-- function set the setting to p and this transaction wrote p's row in
-- audit_archives (so the month's archive is in the trail).
CREATE FUNCTION audit_archive_allowed(p text) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT p <> '' AND coalesce(current_setting('keyport.audit_archive', true), '') = p
       AND EXISTS (SELECT 1 FROM audit_archives a WHERE a.partition = p AND a.xmin = pg_current_xact_id()::xid)
$$;

-- DETACH and DROP are DDL, which row and TRUNCATE triggers do not see:
-- event triggers refuse them for audit partitions outside the archive path.
CREATE FUNCTION audit_guard_detach() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_query() ~* 'detach\s+partition' AND NOT audit_archive_allowed(coalesce(current_setting('keyport.audit_archive', true), '')) THEN
        RAISE EXCEPTION 'audit tables are append-only: DETACH PARTITION refused outside keyport audit archive'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
END;
$$;

-- After any ALTER TABLE: every audit_events_YYYY_MM table is still a
-- partition of audit_events and every partition still carries that name
-- (a renamed partition would escape the drop guard).
CREATE FUNCTION audit_guard_partitions() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE bad text;
BEGIN
    IF to_regclass('audit_events') IS NULL THEN
        RETURN;
    END IF;
    SELECT c.relname INTO bad FROM pg_class c
    LEFT JOIN pg_inherits i ON i.inhrelid = c.oid
    WHERE c.relkind = 'r' AND c.relname ~ '^audit_events_[0-9]{4}_[0-9]{2}$'
      AND c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = 'audit_events'::regclass)
      AND i.inhparent IS DISTINCT FROM 'audit_events'::regclass
      AND NOT audit_archive_allowed(c.relname)
    UNION ALL
    SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'audit_events'::regclass AND c.relname !~ '^audit_events_[0-9]{4}_[0-9]{2}$'
    LIMIT 1;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'audit tables are append-only: % may leave audit_events only through keyport audit archive', bad
            USING ERRCODE = 'insufficient_privilege';
    END IF;
END;
$$;

CREATE FUNCTION audit_guard_drop() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
    FOR r IN SELECT object_name FROM pg_event_trigger_dropped_objects()
             WHERE object_type = 'table' AND object_name ~ '^audit_events_[0-9]{4}_[0-9]{2}$' LOOP
        IF NOT audit_archive_allowed(r.object_name) THEN
            RAISE EXCEPTION 'audit tables are append-only: DROP of % refused outside keyport audit archive', r.object_name
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    END LOOP;
END;
$$;

-- Event triggers need a superuser to create. A deployment migrating as a
-- plain owner gets the partitions and the archive path without them, and a
-- warning (docs/security.md).
DO $$
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        CREATE EVENT TRIGGER audit_guard_detach ON ddl_command_start WHEN TAG IN ('ALTER TABLE')
            EXECUTE FUNCTION audit_guard_detach();
        CREATE EVENT TRIGGER audit_guard_partitions ON ddl_command_end WHEN TAG IN ('ALTER TABLE')
            EXECUTE FUNCTION audit_guard_partitions();
        CREATE EVENT TRIGGER audit_guard_drop ON sql_drop EXECUTE FUNCTION audit_guard_drop();
    ELSE
        RAISE WARNING 'not a superuser: audit partitions are not guarded against DETACH and DROP by event triggers';
    END IF;
END;
$$;

---- create above / drop below ----
-- Not reversible: archived months are gone from the database, and a single
-- table cannot take back a trail whose oldest months are files.
DO $$ BEGIN RAISE EXCEPTION '016_audit_partitions cannot be undone'; END; $$;
