-- A create records everything settling needs before its POST leaves
-- (state 'sending': the owner's key ids before, the audit intent, and which
-- portal process sends it). A 'sending' row whose process no longer holds
-- its instance lock (pg_advisory_lock(4242, instance_key), taken at start and
-- held for the process's life) was cut short by a crash, a kill -9 or a
-- stop, and is settled like a create whose answer was lost.
ALTER TABLE key_creates ADD COLUMN instance_key integer;
ALTER TABLE key_creates DROP CONSTRAINT key_creates_state_check;
ALTER TABLE key_creates ADD CONSTRAINT key_creates_state_check
    CHECK (state IN ('started', 'sending', 'created', 'failed', 'unknown', 'not_created', 'secret_lost', 'ambiguous'));
DROP INDEX key_creates_pending;
CREATE INDEX key_creates_pending ON key_creates (region, tenant_id) WHERE state IN ('unknown', 'sending');
