-- The names of CXone users Keyport has seen, by tenant and area: who
-- connected (their token's claims). Pages show names instead of user ids;
-- reading them here is one index probe per user, where reading them from
-- the trail grew with the trail (issue 14). Kept by UpsertConnection;
-- filled once from what the trail and the connections already hold.
CREATE TABLE cxone_users (
    region      text        NOT NULL,
    tenant_id   text        NOT NULL,
    user_key    text        NOT NULL,   -- lower(user_id): CXone's ids compare case-insensitively
    user_id     text        NOT NULL,
    name        text        NOT NULL CHECK (name <> ''),
    seen_at     timestamptz NOT NULL,
    PRIMARY KEY (region, tenant_id, user_key)
);

INSERT INTO cxone_users (region, tenant_id, user_key, user_id, name, seen_at)
SELECT DISTINCT ON (region, tenant_id, lower(user_id)) region, tenant_id, lower(user_id), user_id, name, seen
FROM (
    SELECT region, tenant_id, actor_user_id AS user_id, actor_name AS name, occurred_at AS seen
    FROM audit_events
    WHERE actor_kind = 'admin' AND actor_user_id <> '' AND actor_name <> '' AND actor_name <> actor_user_id
    UNION ALL
    SELECT region, tenant_id, user_id, user_name, created_at
    FROM connections
    WHERE user_id <> '' AND user_name <> '' AND user_name <> user_id
) seen
ORDER BY region, tenant_id, lower(user_id), seen DESC;
