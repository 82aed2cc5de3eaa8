INSERT INTO waf_events_1h
SELECT
    date_bin(INTERVAL '1 hour', bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00'),
    rule_id, client_ip, host, action,
    sum(event_count), sum(status_4xx), sum(status_5xx), min(first_seen), max(last_seen)
FROM waf_events_1m
GROUP BY 1, 2, 3, 4, 5
ON CONFLICT DO NOTHING
