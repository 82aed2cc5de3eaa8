-- The bucket key the refresh upserts on (NULLS NOT DISTINCT: rule_id and host may be NULL).
CREATE UNIQUE INDEX IF NOT EXISTS waf_events_1m_key
    ON waf_events_1m (bucket, rule_id, client_ip, host, action) NULLS NOT DISTINCT
