-- Refresh waf_events_1m by bucket for the given minute-aligned ranges [lo, hi): recompute
-- those minutes from waf_events, upsert the groups (rows whose values did not change are
-- not rewritten) and delete groups that no longer have events (a day rebuild may remove
-- some). Minutes outside the ranges are not read. %(lo)s/%(hi)s bound all ranges, so the
-- planner prunes day partitions.
WITH ranges AS (
    SELECT r.lo, r.hi FROM unnest(%(los)s::timestamptz[], %(his)s::timestamptz[]) AS r(lo, hi)
),
fresh AS (
    SELECT
        date_bin(INTERVAL '1 minute', e.event_time, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
        e.rule_id, e.client_ip, e.host, e.action,
        count(*) AS event_count,
        count(*) FILTER (WHERE e.status_code BETWEEN 400 AND 499) AS status_4xx,
        count(*) FILTER (WHERE e.status_code BETWEEN 500 AND 599) AS status_5xx,
        min(e.event_time) AS first_seen,
        max(e.event_time) AS last_seen
    FROM ranges AS r
    JOIN waf_events AS e ON e.event_time >= r.lo AND e.event_time < r.hi
    WHERE e.event_time >= %(lo)s::timestamptz AND e.event_time < %(hi)s::timestamptz
    GROUP BY 1, 2, 3, 4, 5
),
gone AS (
    DELETE FROM waf_events_1m AS a
    USING ranges AS r
    -- only partial refreshes of existing data prune (loads only add rows; whole days
    -- are emptied first by clear_aggregate_ranges.sql)
    WHERE %(prune)s::boolean
      AND a.bucket >= r.lo AND a.bucket < r.hi
      AND a.bucket >= %(lo)s::timestamptz AND a.bucket < %(hi)s::timestamptz
      -- NOT IN over non-null keys: a hashed subplan (a partial refresh's groups fit in
      -- work_mem), never the nested loop a table without statistics got with NOT EXISTS
      AND (a.bucket, a.client_ip, a.action, coalesce(a.rule_id, chr(1)), coalesce(a.host, chr(1)))
          NOT IN (SELECT f.bucket, f.client_ip, f.action, coalesce(f.rule_id, chr(1)), coalesce(f.host, chr(1)) FROM fresh AS f)
    RETURNING 1
)
INSERT INTO waf_events_1m AS a
SELECT * FROM fresh
ON CONFLICT (bucket, rule_id, client_ip, host, action) DO UPDATE
SET event_count = excluded.event_count, status_4xx = excluded.status_4xx,
    status_5xx = excluded.status_5xx, first_seen = excluded.first_seen,
    last_seen = excluded.last_seen
WHERE (a.event_count, a.status_4xx, a.status_5xx, a.first_seen, a.last_seen)
    IS DISTINCT FROM
    (excluded.event_count, excluded.status_4xx, excluded.status_5xx, excluded.first_seen,
     excluded.last_seen)
