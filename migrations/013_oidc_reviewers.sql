-- Reviewers who sign in through the company's OpenID Connect provider
-- (issue 16). One row per person the provider vouched for (issuer and
-- subject, the ID token's stable pair), written at each successful sign-in.
-- Kept apart from the local accounts in `reviewers` (passwords, TOTP): a
-- local account can be disabled without touching these, and `keyport
-- reviewer list` shows both with their source. No token is ever stored;
-- groups are those that granted access at the last sign-in.
CREATE TABLE oidc_reviewers (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    issuer        text        NOT NULL CHECK (octet_length(issuer) BETWEEN 1 AND 512),
    subject       text        NOT NULL CHECK (octet_length(subject) BETWEEN 1 AND 255),
    email         text        NOT NULL DEFAULT '' CHECK (octet_length(email) <= 320),
    name          text        NOT NULL DEFAULT '' CHECK (octet_length(name) <= 200),
    groups        text[]      NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL,
    last_login_at timestamptz NOT NULL,
    UNIQUE (issuer, subject)
);

---- create above / drop below ----
DROP TABLE oidc_reviewers;
