CREATE INDEX IF NOT EXISTS waf_events_time_idx ON waf_events (event_time DESC)
