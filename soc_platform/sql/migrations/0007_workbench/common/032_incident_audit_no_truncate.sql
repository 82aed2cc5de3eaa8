CREATE OR REPLACE TRIGGER incident_audit_no_truncate
BEFORE TRUNCATE ON incident_audit
FOR EACH STATEMENT EXECUTE FUNCTION incident_audit_append_only()
