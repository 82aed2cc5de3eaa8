-- Refresh the daily summary by bucket for the given day-aligned ranges, rolled up from
-- waf_events_1h (client_ip is an hourly group key, so the distinct count is exact).
WITH ranges AS (
    SELECT r.lo, r.hi FROM unnest(%(los)s::timestamptz[], %(his)s::timestamptz[]) AS r(lo, hi)
),
fresh AS (
    SELECT
        date_bin(INTERVAL '1 day', h.bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS day,
        h.rule_id,
        sum(h.event_count)::bigint AS event_count,
        count(DISTINCT h.client_ip) AS distinct_ips
    FROM ranges AS r
    JOIN waf_events_1h AS h ON h.bucket >= r.lo AND h.bucket < r.hi
    GROUP BY 1, 2
),
gone AS (
    DELETE FROM waf_events_daily_summary AS a
    USING ranges AS r
    WHERE %(prune)s::boolean  -- false for loads: inserting rows never empties a group
      AND a.day >= r.lo AND a.day < r.hi
      AND NOT EXISTS (
        SELECT 1 FROM fresh AS f
        WHERE f.day = a.day AND coalesce(f.rule_id, chr(1)) = coalesce(a.rule_id, chr(1))
      )
    RETURNING 1
)
INSERT INTO waf_events_daily_summary AS a (day, rule_id, event_count, distinct_ips)
SELECT day, rule_id, event_count, distinct_ips FROM fresh
ON CONFLICT (day, rule_id) DO UPDATE
SET event_count = excluded.event_count, distinct_ips = excluded.distinct_ips
WHERE (a.event_count, a.distinct_ips) IS DISTINCT FROM (excluded.event_count, excluded.distinct_ips)
