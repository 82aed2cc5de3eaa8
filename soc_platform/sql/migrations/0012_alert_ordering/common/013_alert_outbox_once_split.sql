-- Exactly once, per event: a trigger per (incident, destination, severity, epoch) as
-- before; a resolve per (incident, destination, dedup key, epoch), since closing an
-- incident resolves each dedup key it (or a merged predecessor) triggered.
ALTER TABLE alert_outbox DROP CONSTRAINT IF EXISTS alert_outbox_once
