CREATE OR REPLACE TRIGGER incident_audit_append_only
BEFORE UPDATE OR DELETE ON incident_audit
FOR EACH ROW EXECUTE FUNCTION incident_audit_append_only()
