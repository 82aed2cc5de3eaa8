-- Whole-day refresh of waf_events_daily_ips (rebuilds, explicit day refreshes): recompute
-- the given day-aligned ranges from waf_events_1h; same upsert/delete scheme as
-- refresh_waf_events_1m.sql.
WITH ranges AS (
    SELECT r.lo, r.hi FROM unnest(%(los)s::timestamptz[], %(his)s::timestamptz[]) AS r(lo, hi)
),
fresh AS (
    SELECT
        date_bin(INTERVAL '1 day', h.bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS day,
        h.rule_id, h.client_ip,
        sum(h.event_count)::bigint AS event_count
    FROM ranges AS r
    JOIN waf_events_1h AS h ON h.bucket >= r.lo AND h.bucket < r.hi
    GROUP BY 1, 2, 3
),
gone AS (
    DELETE FROM waf_events_daily_ips AS a
    USING ranges AS r
    WHERE %(prune)s::boolean
      AND a.day >= r.lo AND a.day < r.hi
      -- NOT IN over non-null keys: a hashed subplan (a partial refresh's groups fit in
      -- work_mem), never the nested loop a table without statistics got with NOT EXISTS
      AND (a.day, a.client_ip, coalesce(a.rule_id, chr(1)))
          NOT IN (SELECT f.day, f.client_ip, coalesce(f.rule_id, chr(1)) FROM fresh AS f)
    RETURNING 1
)
INSERT INTO waf_events_daily_ips AS a
SELECT * FROM fresh
ON CONFLICT (day, rule_id, client_ip) DO UPDATE
SET event_count = excluded.event_count
WHERE a.event_count IS DISTINCT FROM excluded.event_count
