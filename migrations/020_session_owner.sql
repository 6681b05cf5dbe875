-- Whose session it is, in the clear (ASVS 7.4.5, 7.5.2): a reviewer lists
-- and ends their own sessions, an operator a reviewer's, without opening
-- every sealed row. The owner is the reviewer's username ("local:alice") or
-- OIDC account ("oidc:<id>"); '' for admin sessions and sessions from before
-- this column. Nothing secret: the same names are in the audit trail.
ALTER TABLE sessions ADD COLUMN owner text NOT NULL DEFAULT '' CHECK (octet_length(owner) <= 200);
CREATE INDEX sessions_owner ON sessions (kind, owner) WHERE owner <> '';

---- create above / drop below ----
DROP INDEX sessions_owner;
ALTER TABLE sessions DROP COLUMN owner;
