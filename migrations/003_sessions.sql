-- Server-side sessions. The cookie carries only a random id (signed); this
-- table keys sessions by the id's SHA-256, so a database reader cannot replay
-- a cookie. Values are sealed with AES-GCM under KEYPORT_ENCRYPTION_KEY.
CREATE TABLE sessions (
    id_hash      bytea       PRIMARY KEY CHECK (octet_length(id_hash) = 32),
    kind         text        NOT NULL CHECK (kind IN ('admin', 'auditor')),
    data         bytea       NOT NULL,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_last_seen ON sessions (last_seen_at);

-- A session's CXone connections: one per (area, tenant, user). Tokens are
-- sealed, bound to the connection id; only their expiry is in the clear.
-- Rotating a session's id moves its connections with it (ON UPDATE CASCADE).
CREATE TABLE connections (
    id                  uuid        PRIMARY KEY,
    session_id_hash     bytea       NOT NULL REFERENCES sessions (id_hash) ON DELETE CASCADE ON UPDATE CASCADE,
    region              text        NOT NULL,
    tenant_id           text        NOT NULL,
    tenant_name         text        NOT NULL DEFAULT '',
    user_id             text        NOT NULL,
    user_name           text        NOT NULL DEFAULT '',
    business_unit       text        NOT NULL DEFAULT '',
    identity_verified   boolean     NOT NULL DEFAULT false,
    tokens              bytea       NOT NULL,
    access_expires_at   timestamptz NOT NULL,
    refresh_expires_at  timestamptz,
    state               text        NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'expired')),
    can_manage_others   boolean,
    created_at          timestamptz NOT NULL,
    UNIQUE (session_id_hash, region, tenant_id, user_id)
);
CREATE INDEX connections_session ON connections (session_id_hash);

---- create above / drop below ----
DROP TABLE connections;
DROP TABLE sessions;
