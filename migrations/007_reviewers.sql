-- The security reviewers' role has one name in Keyport now, "reviewer": its
-- tables follow (their constraints and the primary keys' indexes too, so
-- error messages and plans say the same). Grants move with a renamed table,
-- and no function, trigger or view names these two.
--
-- What does not change: the values stored in the audit trail (actor kind
-- 'auditor', actions 'auditor.…', see 002_audit.sql) are hash-chained and
-- append-only, and the session kind 'auditor' (003_sessions.sql) is checked
-- there; both keep the old word.
ALTER TABLE auditors RENAME TO reviewers;
ALTER TABLE reviewers RENAME CONSTRAINT auditors_pkey TO reviewers_pkey;
ALTER TABLE reviewers RENAME CONSTRAINT auditors_username_check TO reviewers_username_check;
ALTER TABLE reviewers RENAME CONSTRAINT auditors_password_hash_check TO reviewers_password_hash_check;

ALTER TABLE auditor_throttle RENAME TO reviewer_throttle;
ALTER TABLE reviewer_throttle RENAME CONSTRAINT auditor_throttle_pkey TO reviewer_throttle_pkey;
ALTER TABLE reviewer_throttle RENAME CONSTRAINT auditor_throttle_key_check TO reviewer_throttle_key_check;

---- create above / drop below ----
ALTER TABLE reviewer_throttle RENAME CONSTRAINT reviewer_throttle_key_check TO auditor_throttle_key_check;
ALTER TABLE reviewer_throttle RENAME CONSTRAINT reviewer_throttle_pkey TO auditor_throttle_pkey;
ALTER TABLE reviewer_throttle RENAME TO auditor_throttle;

ALTER TABLE reviewers RENAME CONSTRAINT reviewers_password_hash_check TO auditors_password_hash_check;
ALTER TABLE reviewers RENAME CONSTRAINT reviewers_username_check TO auditors_username_check;
ALTER TABLE reviewers RENAME CONSTRAINT reviewers_pkey TO auditors_pkey;
ALTER TABLE reviewers RENAME TO auditors;
