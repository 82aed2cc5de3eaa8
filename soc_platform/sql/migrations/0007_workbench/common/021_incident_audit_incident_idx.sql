CREATE INDEX IF NOT EXISTS incident_audit_incident_idx ON incident_audit (incident_id, id)
