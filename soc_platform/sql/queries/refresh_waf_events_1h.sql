-- Refresh waf_events_1h by bucket for the given hour-aligned ranges, rolled up from
-- waf_events_1m (refreshed first); same upsert/delete scheme as refresh_waf_events_1m.sql.
WITH ranges AS (
    SELECT r.lo, r.hi FROM unnest(%(los)s::timestamptz[], %(his)s::timestamptz[]) AS r(lo, hi)
),
fresh AS (
    SELECT
        date_bin(INTERVAL '1 hour', m.bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
        m.rule_id, m.client_ip, m.host, m.action,
        sum(m.event_count)::bigint AS event_count,
        sum(m.status_4xx)::bigint AS status_4xx,
        sum(m.status_5xx)::bigint AS status_5xx,
        min(m.first_seen) AS first_seen,
        max(m.last_seen) AS last_seen
    FROM ranges AS r
    JOIN waf_events_1m AS m ON m.bucket >= r.lo AND m.bucket < r.hi
    WHERE m.bucket >= %(lo)s::timestamptz AND m.bucket < %(hi)s::timestamptz
    GROUP BY 1, 2, 3, 4, 5
),
gone AS (
    DELETE FROM waf_events_1h AS a
    USING ranges AS r
    -- only partial refreshes of existing data prune (loads only add rows; whole days
    -- are emptied first by clear_aggregate_ranges.sql)
    WHERE %(prune)s::boolean
      AND a.bucket >= r.lo AND a.bucket < r.hi
      -- NOT IN over non-null keys: a hashed subplan (a partial refresh's groups fit in
      -- work_mem), never the nested loop a table without statistics got with NOT EXISTS
      AND (a.bucket, a.client_ip, a.action, coalesce(a.rule_id, chr(1)), coalesce(a.host, chr(1)))
          NOT IN (SELECT f.bucket, f.client_ip, f.action, coalesce(f.rule_id, chr(1)), coalesce(f.host, chr(1)) FROM fresh AS f)
    RETURNING 1
)
INSERT INTO waf_events_1h AS a
SELECT * FROM fresh
ON CONFLICT (bucket, rule_id, client_ip, host, action) DO UPDATE
SET event_count = excluded.event_count, status_4xx = excluded.status_4xx,
    status_5xx = excluded.status_5xx, first_seen = excluded.first_seen,
    last_seen = excluded.last_seen
WHERE (a.event_count, a.status_4xx, a.status_5xx, a.first_seen, a.last_seen)
    IS DISTINCT FROM
    (excluded.event_count, excluded.status_4xx, excluded.status_5xx, excluded.first_seen,
     excluded.last_seen)
