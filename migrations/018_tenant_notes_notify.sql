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
-- The notes also carry the key policy, each key's first sighting and the
-- tenant's last scan (issue 25): those notify too. A policy change may be
-- the global row, so it drops every tenant ('*').
CREATE TRIGGER credential_report_notify AFTER INSERT OR UPDATE OR DELETE ON credential_report
    FOR EACH ROW EXECUTE FUNCTION tenant_notes_notify();
CREATE TRIGGER credential_scans_notify AFTER INSERT OR UPDATE OR DELETE ON credential_scans
    FOR EACH ROW EXECUTE FUNCTION tenant_notes_notify();
CREATE FUNCTION tenant_notes_notify_all() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('keyport_tenant_notes', '*');
    RETURN NULL;
END;
$$;
CREATE TRIGGER key_policies_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON key_policies
    FOR EACH STATEMENT EXECUTE FUNCTION tenant_notes_notify_all();

---- create above / drop below ----
DROP TRIGGER key_policies_notify ON key_policies;
DROP FUNCTION tenant_notes_notify_all;
DROP TRIGGER credential_scans_notify ON credential_scans;
DROP TRIGGER credential_report_notify ON credential_report;
DROP TRIGGER cxone_users_notify ON cxone_users;
DROP TRIGGER key_rotations_notify ON key_rotations;
DROP TRIGGER key_creates_notify ON key_creates;
DROP TRIGGER key_metadata_notify ON key_metadata;
DROP FUNCTION tenant_notes_notify;
