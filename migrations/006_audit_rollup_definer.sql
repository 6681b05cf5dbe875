-- The per-day rollup behind the reviewers' activity chart is kept by a
-- trigger on audit_events. Run that trigger with its owner's rights, so the
-- portal's database role needs only INSERT and SELECT on the audit tables
-- (docs/security.md), not write access to the rollup.
ALTER FUNCTION audit_count_days() SECURITY DEFINER SET search_path FROM CURRENT;

---- create above / drop below ----
ALTER FUNCTION audit_count_days() SECURITY INVOKER RESET search_path;
