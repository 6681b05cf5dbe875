-- Keyport's own notes on access keys. CXone is the source of truth for a
-- key's existence and state; these rows add what CXone does not keep: who
-- created it in Keyport, its label, a keyed fingerprint and the last four
-- characters of its secret (never the secret), and the last verification.
-- Every read is scoped by (region, tenant_id): that is the tenancy boundary.
CREATE TABLE key_metadata (
    region              text        NOT NULL,
    tenant_id           text        NOT NULL,
    access_key_id       text        NOT NULL,
    owner_user_id       text        NOT NULL DEFAULT '',
    label               text        NOT NULL DEFAULT '' CHECK (char_length(label) <= 100),
    created_by_user_id  text        NOT NULL DEFAULT '',
    created_by_name     text        NOT NULL DEFAULT '',
    created_at          timestamptz,
    secret_fingerprint  text        NOT NULL DEFAULT '',
    secret_last4        text        NOT NULL DEFAULT '',
    secret_lost         boolean     NOT NULL DEFAULT false,
    last_verified_at    timestamptz,
    last_verify_result  text        NOT NULL DEFAULT '',
    PRIMARY KEY (region, tenant_id, access_key_id)
);
CREATE INDEX key_metadata_fingerprint ON key_metadata (secret_fingerprint) WHERE secret_fingerprint <> '';

-- One row per create form submission, keyed by the form's one-time intent
-- id: a second submit of the same form (double click, browser retry) finds
-- the row and creates nothing. before_ids is the owner's key set listed just
-- before the POST, so an unknown outcome can be reconciled by diffing.
CREATE TABLE key_creates (
    form_token          text        PRIMARY KEY CHECK (char_length(form_token) BETWEEN 16 AND 64),
    region              text        NOT NULL,
    tenant_id           text        NOT NULL,
    owner_user_id       text        NOT NULL,
    connection_id       uuid,
    actor_user_id       text        NOT NULL,
    actor_name          text        NOT NULL DEFAULT '',
    label               text        NOT NULL DEFAULT '',
    state               text        NOT NULL CHECK (state IN ('started', 'created', 'failed', 'unknown', 'not_created', 'secret_lost', 'ambiguous')),
    audit_intent_id     bigint,
    access_key_id       text        NOT NULL DEFAULT '',
    before_ids          text[]      NOT NULL DEFAULT '{}',
    candidate_ids       text[]      NOT NULL DEFAULT '{}',
    message             text        NOT NULL DEFAULT '',
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL
);
CREATE INDEX key_creates_pending ON key_creates (region, tenant_id) WHERE state = 'unknown';

-- The rotation wizard's progress, so it can be left and resumed.
CREATE TABLE key_rotations (
    id                  uuid        PRIMARY KEY,
    region              text        NOT NULL,
    tenant_id           text        NOT NULL,
    old_key_id          text        NOT NULL,
    new_key_id          text        NOT NULL DEFAULT '',
    step                text        NOT NULL CHECK (step IN ('created', 'deployed', 'verified', 'old_deactivated', 'done', 'abandoned')),
    created_by_user_id  text        NOT NULL,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL
);
CREATE UNIQUE INDEX key_rotations_open ON key_rotations (region, tenant_id, old_key_id) WHERE step NOT IN ('done', 'abandoned');

---- create above / drop below ----
DROP TABLE key_rotations;
DROP TABLE key_creates;
DROP TABLE key_metadata;
