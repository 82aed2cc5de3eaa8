CREATE INDEX IF NOT EXISTS waf_events_client_ip_time_idx ON waf_events (client_ip, event_time DESC)
