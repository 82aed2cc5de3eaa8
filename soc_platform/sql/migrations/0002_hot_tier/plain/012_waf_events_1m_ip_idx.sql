CREATE INDEX IF NOT EXISTS waf_events_1m_client_ip_idx ON waf_events_1m (client_ip, bucket DESC)
