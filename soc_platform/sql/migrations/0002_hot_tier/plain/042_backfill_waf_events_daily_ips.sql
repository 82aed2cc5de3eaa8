INSERT INTO waf_events_daily_ips
SELECT
    date_bin(INTERVAL '1 day', bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00'),
    rule_id, client_ip, sum(event_count)
FROM waf_events_1h
GROUP BY 1, 2, 3
ON CONFLICT DO NOTHING
