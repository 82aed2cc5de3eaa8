CREATE INDEX IF NOT EXISTS waf_events_1h_client_ip_idx ON waf_events_1h (client_ip, bucket DESC)
