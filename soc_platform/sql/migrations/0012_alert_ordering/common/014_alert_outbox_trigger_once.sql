CREATE UNIQUE INDEX IF NOT EXISTS alert_outbox_trigger_once
    ON alert_outbox (incident_id, destination, severity, epoch)
    WHERE event = 'trigger'
