-- Every change to what the keys page's notes are read from (db.TenantNotes)
-- notifies keyport_tenant_notes with "<region> <tenant id>", whoever makes
-- it, so every portal instance's notes cache (internal/notescache) drops
-- that tenant. NOTIFY is sent at commit, once per distinct payload.
CREATE FUNCTION tenant_notes_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM pg_notify('keyport_tenant_notes', OLD.region || ' ' || OLD.tenant_id);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM pg_notify('keyport_tenant_notes', NEW.region || ' ' || NEW.tenant_id);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER key_metadata_notify AFTER INSERT OR UPDATE OR DELETE ON key_metadata
    FOR EACH ROW EXECUTE FUNCTION tenant_notes_notify();
CREATE TRIGGER key_creates_notify AFTER INSERT OR UPDATE OR DELETE ON key_creates
    FOR EACH ROW EXECUTE FUNCTION tenant_notes_notify();
CREATE TRIGGER key_rotations_notify AFTER INSERT OR UPDATE OR DELETE ON key_rotations
    FOR EACH ROW EXECUTE FUNCTION tenant_notes_notify();
CREATE TRIGGER cxone_users_notify AFTER INSERT OR UPDATE OR DELETE ON cxone_users
    FOR EACH ROW EXECUTE FUNCTION tenant_notes_notify();

---- create above / drop below ----
DROP TRIGGER cxone_users_notify ON cxone_users;
DROP TRIGGER key_rotations_notify ON key_rotations;
DROP TRIGGER key_creates_notify ON key_creates;
DROP TRIGGER key_metadata_notify ON key_metadata;
DROP FUNCTION tenant_notes_notify;
