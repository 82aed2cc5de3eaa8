-- The rate limit's look at the last minute.
CREATE INDEX IF NOT EXISTS alert_deliveries_at_idx ON alert_deliveries (at)
