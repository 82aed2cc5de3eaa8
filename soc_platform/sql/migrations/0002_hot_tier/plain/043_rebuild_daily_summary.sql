-- The daily summary now rolls up from waf_events_daily_ips; recompute it once from there
-- (same values as schema 1 computed from the base table).
INSERT INTO waf_events_daily_summary (day, rule_id, event_count, distinct_ips)
SELECT day, rule_id, sum(event_count), count(*)
FROM waf_events_daily_ips
GROUP BY 1, 2
ON CONFLICT (day, rule_id) DO UPDATE
SET event_count = excluded.event_count, distinct_ips = excluded.distinct_ips
