-- The old key (incident, destination, event, severity, epoch) goes last, once the two
-- partial unique indexes above hold. Processes of the previous release name it in their
-- ON CONFLICT: stop them before upgrading (README "Alerting").
ALTER TABLE alert_outbox DROP CONSTRAINT IF EXISTS alert_outbox_once
