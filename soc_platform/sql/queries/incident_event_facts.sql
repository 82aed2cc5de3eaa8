-- What an incident's events say that analysts search for and filter on: the most frequent
-- user agents and paths, and the sources' countries and autonomous systems. One statement
-- for a whole batch: one row per (incident, source IP, time range) in the parallel arrays,
-- each an index range of waf_events_client_ip_time_idx.
WITH wanted AS (
    SELECT w.id, w.ip::inet AS ip, w.lo, w.hi
    FROM unnest(%(ids)s::text[], %(ips)s::text[], %(los)s::timestamptz[], %(his)s::timestamptz[])
        AS w(id, ip, lo, hi)
),
events AS (
    SELECT w.id, e.user_agent, e.url_path, e.source_country, e.source_as_number
    FROM wanted AS w
    JOIN waf_events AS e
      ON e.client_ip = w.ip AND e.event_time >= w.lo AND e.event_time <= w.hi
)
SELECT
    ids.id,
    ARRAY(
        SELECT x.user_agent FROM events AS x
        WHERE x.id = ids.id AND x.user_agent IS NOT NULL AND x.user_agent <> ''
        GROUP BY x.user_agent ORDER BY count(*) DESC, x.user_agent LIMIT 5
    ) AS user_agents,
    ARRAY(
        SELECT x.url_path FROM events AS x
        WHERE x.id = ids.id AND x.url_path IS NOT NULL AND x.url_path <> ''
        GROUP BY x.url_path ORDER BY count(*) DESC, x.url_path LIMIT 10
    ) AS paths,
    ARRAY(
        SELECT DISTINCT x.source_country FROM events AS x
        WHERE x.id = ids.id AND x.source_country IS NOT NULL ORDER BY 1
    ) AS countries,
    ARRAY(
        SELECT DISTINCT x.source_as_number FROM events AS x
        WHERE x.id = ids.id AND x.source_as_number IS NOT NULL ORDER BY 1
    ) AS asns
FROM (SELECT DISTINCT id FROM wanted) AS ids
