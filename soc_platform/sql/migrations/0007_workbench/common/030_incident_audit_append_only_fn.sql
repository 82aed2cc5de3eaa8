-- The audit trail is append-only: rows are never changed nor deleted (TRUNCATE too).
CREATE OR REPLACE FUNCTION incident_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'incident_audit is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
