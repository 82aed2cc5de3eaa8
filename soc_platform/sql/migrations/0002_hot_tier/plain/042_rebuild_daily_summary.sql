-- The daily summary now rolls up from waf_events_1h; recompute it once from there (same
-- values as schema 1 computed from the base table).
INSERT INTO waf_events_daily_summary (day, rule_id, event_count, distinct_ips)
SELECT
    date_bin(INTERVAL '1 day', bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00'),
    rule_id,
    sum(event_count),
    count(DISTINCT client_ip)
FROM waf_events_1h
GROUP BY 1, 2
ON CONFLICT (day, rule_id) DO UPDATE
SET event_count = excluded.event_count, distinct_ips = excluded.distinct_ips
