-- Recompute only the touched days (distinct counts cannot be added up incrementally).
INSERT INTO waf_events_daily_summary (day, rule_id, event_count, distinct_ips)
SELECT
    date_bin(INTERVAL '1 day', e.event_time, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS day,
    e.rule_id,
    count(*),
    count(DISTINCT e.client_ip)
FROM unnest(%(days)s::timestamptz[]) AS d(day)
JOIN waf_events AS e ON e.event_time >= d.day AND e.event_time < d.day + INTERVAL '1 day'
GROUP BY 1, 2
