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
      AND NOT EXISTS (
        SELECT 1 FROM fresh AS f
        WHERE f.day = a.day AND f.client_ip = a.client_ip
          AND coalesce(f.rule_id, chr(1)) = coalesce(a.rule_id, chr(1))
      )
    RETURNING 1
)
INSERT INTO waf_events_daily_ips AS a
SELECT * FROM fresh
ON CONFLICT (day, rule_id, client_ip) DO UPDATE
SET event_count = excluded.event_count
WHERE a.event_count IS DISTINCT FROM excluded.event_count
