-- Key rings (issue 21): each of Keyport's own keys may be several, newest
-- first, and what a key produced records the key's short id, so a rotation
-- loses nothing and `keyport keys status` can tell when an old key is no
-- longer needed. Sealed values (sessions.data, connections.tokens,
-- reviewers.totp_sealed) carry the id in their own header and need no
-- column. '' means "made before key ids": the migration cannot know which
-- key that was (the key never enters the database).

-- Which session key signed the cookie last sent for a session.
ALTER TABLE sessions ADD COLUMN cookie_key_id text NOT NULL DEFAULT '';

-- Which audit key signed a checkpoint. A checkpoint from before key ids has
-- '' and is checked with every key of the ring; `keyport rekey` records the
-- id of the ring key whose signature matches it, the one change the table
-- accepts: key_id from '' to an id, every other column unchanged. So once
-- its key has left the ring, `keyport audit verify` names such a
-- checkpoint's key instead of calling it forged. Labelling a checkpoint
-- with a wrong id gains nothing: it then fails that key's check, or (an id
-- not in the ring) is still compared with the chain.
ALTER TABLE audit_checkpoints ADD COLUMN key_id text NOT NULL DEFAULT '';

CREATE FUNCTION audit_checkpoint_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.key_id = '' AND NEW.key_id <> ''
        AND (NEW.id, NEW.created_at, NEW.last_event_id, NEW.last_hash, NEW.event_count, NEW.mac)
            IS NOT DISTINCT FROM (OLD.id, OLD.created_at, OLD.last_event_id, OLD.last_hash, OLD.event_count, OLD.mac) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit tables are append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
DROP TRIGGER audit_checkpoints_no_update ON audit_checkpoints;
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_checkpoint_change();

-- Which audit key made a secret's fingerprint.
ALTER TABLE key_metadata ADD COLUMN fingerprint_key_id text NOT NULL DEFAULT '';

-- `keyport rekey` is audited as one event. NOT VALID: every stored event
-- already satisfies the narrower list, and a long trail is not rescanned.
ALTER TABLE audit_events DROP CONSTRAINT audit_events_action_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_action_check CHECK (action IN (
    'connect', 'disconnect', 'token.refresh',
    'key.list', 'key.create', 'key.activate', 'key.deactivate', 'key.delete',
    'key.verify', 'key.lookup', 'key.reconcile', 'key.rotate',
    'auditor.add', 'auditor.disable', 'auditor.enable', 'auditor.reset_password',
    'auditor.login', 'auditor.logout',
    'audit.view', 'audit.export', 'audit.verify', 'audit.checkpoint', 'audit.seed',
    'keys.rekey')) NOT VALID;

---- create above / drop below ----
ALTER TABLE audit_events DROP CONSTRAINT audit_events_action_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_action_check CHECK (action IN (
    'connect', 'disconnect', 'token.refresh',
    'key.list', 'key.create', 'key.activate', 'key.deactivate', 'key.delete',
    'key.verify', 'key.lookup', 'key.reconcile', 'key.rotate',
    'auditor.add', 'auditor.disable', 'auditor.enable', 'auditor.reset_password',
    'auditor.login', 'auditor.logout',
    'audit.view', 'audit.export', 'audit.verify', 'audit.checkpoint', 'audit.seed')) NOT VALID;
ALTER TABLE key_metadata DROP COLUMN fingerprint_key_id;
DROP TRIGGER audit_checkpoints_no_update ON audit_checkpoints;
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_reject_change();
DROP FUNCTION audit_checkpoint_change();
ALTER TABLE audit_checkpoints DROP COLUMN key_id;
ALTER TABLE sessions DROP COLUMN cookie_key_id;
