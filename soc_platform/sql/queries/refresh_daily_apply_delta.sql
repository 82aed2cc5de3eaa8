-- Partial refresh of the day level (loads): apply the captured changes to
-- waf_events_daily_ips, and to the daily summary: event_count by their sum, distinct_ips
-- by the IPs that appeared (a new row) minus those whose count fell to 0. Reads only the
-- touched keys, however large the day is.
WITH d AS (
    SELECT day, rule_id, client_ip, sum(n) AS n
    FROM agg_delta
    GROUP BY 1, 2, 3
    HAVING sum(n) <> 0
),
up AS (
    INSERT INTO waf_events_daily_ips AS t (day, rule_id, client_ip, event_count)
    SELECT day, rule_id, client_ip, n FROM d
    ON CONFLICT (day, rule_id, client_ip) DO UPDATE
    SET event_count = t.event_count + excluded.event_count
    -- xmax = 0 on a row this statement inserted (not on one it updated)
    RETURNING t.day, t.rule_id, t.event_count, (t.xmax = 0) AS created
),
ips AS (
    SELECT day, rule_id,
           count(*) FILTER (WHERE created) - count(*) FILTER (WHERE event_count = 0) AS n
    FROM up
    GROUP BY 1, 2
),
events AS (
    SELECT day, rule_id, sum(n) AS n FROM d GROUP BY 1, 2
)
INSERT INTO waf_events_daily_summary AS s (day, rule_id, event_count, distinct_ips)
SELECT e.day, e.rule_id, e.n, coalesce(i.n, 0)
FROM events AS e
LEFT JOIN ips AS i ON i.day = e.day AND i.rule_id IS NOT DISTINCT FROM e.rule_id
ON CONFLICT (day, rule_id) DO UPDATE
SET event_count = s.event_count + excluded.event_count,
    distinct_ips = s.distinct_ips + excluded.distinct_ips
