CREATE UNIQUE INDEX IF NOT EXISTS waf_events_daily_ips_key
    ON waf_events_daily_ips (day, rule_id, client_ip) NULLS NOT DISTINCT
