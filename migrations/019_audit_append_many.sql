-- audit_append_many appends a group of events in one call: the chain lock
-- taken once, the head read once, each hash computed in order with the same
-- canonical encoding as audit_append, all rows inserted by one statement (so
-- the daily rollup's statement trigger fires once per group). The arrays
-- are parallel: element i of each is event i. Either every event is
-- appended or none; the portal then appends each alone, so one refused
-- event fails only its own caller (internal/audit/group.go).
CREATE FUNCTION audit_append_many(
    p_actor_kind text[], p_actor_user_id text[], p_actor_name text[], p_tenant_id text[], p_tenant_name text[],
    p_region text[], p_session_hash text[], p_client_ip text[], p_user_agent text[], p_action text[],
    p_target_key_id text[], p_outcome text[], p_upstream_status integer[], p_error_message text[],
    p_request_id text[], p_intent_id bigint[], p_details jsonb[]
) RETURNS TABLE (event_id bigint, event_hash bytea, event_time timestamptz) LANGUAGE plpgsql AS $$
DECLARE
    head_id   bigint;
    head_hash bytea;
    n         integer := coalesce(cardinality(p_actor_kind), 0);
    ids       bigint[];
    times     timestamptz[];
    prevs     bytea[];
    hashes    bytea[];
BEGIN
    IF n = 0 THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(7201540863219452001);
    SELECT e.id, e.hash INTO head_id, head_hash FROM audit_events e ORDER BY e.id DESC LIMIT 1;
    IF head_id IS NULL THEN
        -- the first event, or every earlier one archived: link to the last archived (as audit_append)
        SELECT a.last_id, a.last_hash INTO head_id, head_hash FROM audit_archives a ORDER BY a.last_id DESC LIMIT 1;
    END IF;
    IF head_id IS NULL THEN
        head_id := 0;
        head_hash := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
    END IF;
    FOR i IN 1..n LOOP
        -- The intent an outcome names must exist, earlier in the trail or
        -- earlier in this group (the foreign key's job before partitions).
        IF p_intent_id[i] IS NOT NULL AND NOT (p_intent_id[i] > head_id AND p_intent_id[i] < head_id + i)
           AND NOT EXISTS (SELECT 1 FROM audit_events e WHERE e.id = p_intent_id[i]) THEN
            RAISE EXCEPTION 'audit_append_many: intent % does not exist', p_intent_id[i] USING ERRCODE = 'foreign_key_violation';
        END IF;
        ids[i] := head_id + i;
        times[i] := date_trunc('microseconds', clock_timestamp());
        prevs[i] := head_hash;
        head_hash := sha256(head_hash || audit_canonical_v1(ids[i], times[i], p_actor_kind[i], p_actor_user_id[i],
            p_actor_name[i], p_tenant_id[i], p_tenant_name[i], p_region[i], p_session_hash[i], p_client_ip[i],
            p_user_agent[i], p_action[i], p_target_key_id[i], p_outcome[i], p_upstream_status[i], p_error_message[i],
            p_request_id[i], p_intent_id[i], p_details[i]));
        hashes[i] := head_hash;
    END LOOP;
    -- The months the group falls in exist (once per session and month, as audit_append).
    IF times[n] >= coalesce(nullif(current_setting('keyport.audit_partitions_until', true), '')::timestamptz, '-infinity') THEN
        PERFORM set_config('keyport.audit_partitions_until', audit_ensure_partitions(times[1], times[n])::text, false);
    END IF;
    INSERT INTO audit_events (id, occurred_at, actor_kind, actor_user_id, actor_name, tenant_id, tenant_name,
        region, session_hash, client_ip, user_agent, action, target_key_id, outcome, upstream_status,
        error_message, request_id, intent_id, details, hash_version, prev_hash, hash)
    SELECT u.id, u.t, u.ak, u.au, u.an, u.ti, u.tn, u.r, u.sh, u.ip, u.ua, u.a, u.k, u.o, u.us, u.em, u.rq, u.ii, u.d,
        1, u.ph, u.h
    FROM unnest(ids, times, p_actor_kind, p_actor_user_id, p_actor_name, p_tenant_id, p_tenant_name, p_region,
        p_session_hash, p_client_ip, p_user_agent, p_action, p_target_key_id, p_outcome, p_upstream_status,
        p_error_message, p_request_id, p_intent_id, p_details, prevs, hashes)
        AS u(id, t, ak, au, an, ti, tn, r, sh, ip, ua, a, k, o, us, em, rq, ii, d, ph, h)
    ORDER BY u.id;
    RETURN QUERY SELECT x.id, x.h, x.t FROM unnest(ids, hashes, times) AS x(id, h, t) ORDER BY x.id;
END;
$$;

---- create above / drop below ----
DROP FUNCTION audit_append_many;
