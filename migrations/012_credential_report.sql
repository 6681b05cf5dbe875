-- The credential report (issue 15): what Keyport last saw of every access
-- key, across tenants and areas, for reviewers who hold no CXone
-- credentials. CXone stays the source of truth; these rows are "as of"
-- credential_scans.as_of. A key a later complete list no longer holds is
-- marked gone, never deleted. No secret, token or fingerprint is kept here.
CREATE TABLE credential_report (
    region          text        NOT NULL,
    tenant_id       text        NOT NULL,
    access_key_id   text        NOT NULL,
    owner_user_id   text        NOT NULL DEFAULT '',
    active          boolean,                    -- NULL: CXone did not say
    last_used_at    timestamptz,
    first_seen      timestamptz NOT NULL,
    last_seen       timestamptz NOT NULL,
    gone_at         timestamptz,
    PRIMARY KEY (region, tenant_id, access_key_id)
);
CREATE INDEX credential_report_owner ON credential_report (owner_user_id);

-- When Keyport last saw each tenant's whole list (a page load, a reconcile).
CREATE TABLE credential_scans (
    region          text        NOT NULL,
    tenant_id       text        NOT NULL,
    tenant_name     text        NOT NULL DEFAULT '',
    as_of           timestamptz NOT NULL,
    complete        boolean     NOT NULL,       -- false: CXone said the list may be incomplete
    PRIMARY KEY (region, tenant_id)
);
