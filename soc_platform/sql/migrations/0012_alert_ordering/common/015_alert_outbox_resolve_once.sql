CREATE UNIQUE INDEX IF NOT EXISTS alert_outbox_resolve_once
    ON alert_outbox (incident_id, destination, dedup_key, epoch)
    WHERE event = 'resolve'
