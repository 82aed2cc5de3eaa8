-- Exactly once, per event: a trigger per (incident, destination, severity, epoch) as
-- before; a resolve per (incident, destination, dedup key, epoch), since closing an
-- incident resolves each dedup key it (or a merged predecessor) triggered. Created before
-- the old constraint is dropped (018): on the TimescaleDB dialect the statements run one
-- by one, and there is never a moment without a unique key.
CREATE UNIQUE INDEX IF NOT EXISTS alert_outbox_trigger_once
    ON alert_outbox (incident_id, destination, severity, epoch)
    WHERE event = 'trigger'
