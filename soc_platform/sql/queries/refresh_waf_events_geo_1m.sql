-- Refresh waf_events_geo_1m by bucket for the given minute-aligned ranges [lo, hi), as
-- refresh_waf_events_1m.sql does for waf_events_1m: recompute those minutes from
-- waf_events, upsert the groups (unchanged rows are not rewritten) and, on a partial
-- refresh of existing data, delete groups that no longer have events.
WITH ranges AS (
    SELECT r.lo, r.hi FROM unnest(%(los)s::timestamptz[], %(his)s::timestamptz[]) AS r(lo, hi)
),
fresh AS (
    SELECT
        date_bin(INTERVAL '1 minute', e.event_time, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
        e.source_as_number, e.source_country, e.rule_id, e.action,
        max(e.source_as_org) AS source_as_org,
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
    DELETE FROM waf_events_geo_1m AS a
    USING ranges AS r
    WHERE %(prune)s::boolean
      AND a.bucket >= r.lo AND a.bucket < r.hi
      AND a.bucket >= %(lo)s::timestamptz AND a.bucket < %(hi)s::timestamptz
      AND (a.bucket, a.action, coalesce(a.source_as_number, -1),
           coalesce(a.source_country, chr(1)), coalesce(a.rule_id, chr(1)))
          NOT IN (SELECT f.bucket, f.action, coalesce(f.source_as_number, -1),
                         coalesce(f.source_country, chr(1)), coalesce(f.rule_id, chr(1))
                  FROM fresh AS f)
    RETURNING 1
)
INSERT INTO waf_events_geo_1m AS a
SELECT * FROM fresh
ON CONFLICT (bucket, source_as_number, source_country, rule_id, action) DO UPDATE
SET source_as_org = excluded.source_as_org, event_count = excluded.event_count,
    status_4xx = excluded.status_4xx, status_5xx = excluded.status_5xx,
    first_seen = excluded.first_seen, last_seen = excluded.last_seen
WHERE (a.source_as_org, a.event_count, a.status_4xx, a.status_5xx, a.first_seen, a.last_seen)
    IS DISTINCT FROM
    (excluded.source_as_org, excluded.event_count, excluded.status_4xx, excluded.status_5xx,
     excluded.first_seen, excluded.last_seen)
