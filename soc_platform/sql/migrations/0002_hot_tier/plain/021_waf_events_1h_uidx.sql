CREATE UNIQUE INDEX IF NOT EXISTS waf_events_1h_key
    ON waf_events_1h (bucket, rule_id, client_ip, host, action) NULLS NOT DISTINCT
