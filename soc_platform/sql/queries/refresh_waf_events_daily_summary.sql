-- Whole-day refresh of the daily summary for the given day-aligned ranges, from
-- waf_events_daily_ips (refreshed first; plain dialect): one row there per IP, so the
-- distinct count is a count(*). Same upsert/delete scheme as refresh_waf_events_1m.sql.
WITH ranges AS (
    SELECT r.lo, r.hi FROM unnest(%(los)s::timestamptz[], %(his)s::timestamptz[]) AS r(lo, hi)
),
fresh AS (
    SELECT d.day, d.rule_id, sum(d.event_count)::bigint AS event_count, count(*) AS distinct_ips
    FROM ranges AS r
    JOIN waf_events_daily_ips AS d ON d.day >= r.lo AND d.day < r.hi
    GROUP BY 1, 2
),
gone AS (
    DELETE FROM waf_events_daily_summary AS a
    USING ranges AS r
    WHERE %(prune)s::boolean
      AND a.day >= r.lo AND a.day < r.hi
      -- NOT IN over non-null keys: a hashed subplan (a partial refresh's groups fit in
      -- work_mem), never the nested loop a table without statistics got with NOT EXISTS
      AND (a.day, coalesce(a.rule_id, chr(1)))
          NOT IN (SELECT f.day, coalesce(f.rule_id, chr(1)) FROM fresh AS f)
    RETURNING 1
)
INSERT INTO waf_events_daily_summary AS a (day, rule_id, event_count, distinct_ips)
SELECT day, rule_id, event_count, distinct_ips FROM fresh
ON CONFLICT (day, rule_id) DO UPDATE
SET event_count = excluded.event_count, distinct_ips = excluded.distinct_ips
WHERE (a.event_count, a.distinct_ips) IS DISTINCT FROM (excluded.event_count, excluded.distinct_ips)
