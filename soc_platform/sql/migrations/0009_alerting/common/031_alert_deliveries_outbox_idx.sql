CREATE INDEX IF NOT EXISTS alert_deliveries_outbox_idx ON alert_deliveries (outbox_id)
