-- A compiled rule's incidents: one span per run of firing windows, limited to its group;
-- every event of the run counts once however many windows held it (correlation.compiler
-- renders it; the names in braces are SQL compiled from the rule, the percent-names bind
-- parameters; see match_windows.sql). Targets are host + path with the host lower-cased:
-- host names are case-insensitive (DNS), waf_events keeps the Host header as sent.
WITH spans AS (
    SELECT s.lo, s.hi, s.grp, s.n
    FROM unnest(
        %(span_starts)s::timestamptz[],
        %(span_ends)s::timestamptz[],
        %(span_groups)s::text[]
    ) WITH ORDINALITY AS s(lo, hi, grp, n)
),
hits AS MATERIALIZED (
    SELECT
        e.event_time, e.client_ip, lower(e.host COLLATE "C") AS host, e.request_uri, e.rule_id, e.action,
        {group_key} AS grp,
        {value} AS val
    FROM {events} AS e
    WHERE e.event_time >= %(lo)s::timestamptz
      AND e.event_time < %(hi)s::timestamptz
      AND ({predicate})
),
-- spans for any group join on time; spans of one group join on the group (a hash join:
-- summing up thousands of runs must not compare every event with every span)
matched AS (
    SELECT s.n, s.lo AS window_start, h.*
    FROM spans AS s
    JOIN hits AS h
      ON h.event_time >= s.lo
     AND h.event_time < s.hi
    WHERE s.grp IS NULL
    UNION ALL
    SELECT s.n, s.lo AS window_start, h.*
    FROM spans AS s
    JOIN hits AS h
      ON h.grp = s.grp
    WHERE h.event_time >= s.lo
      AND h.event_time < s.hi
)
SELECT
    grp AS group_key,
    window_start,
    min(event_time) AS start_time,
    max(event_time) AS end_time,
    count(*) AS event_count,
    count(*) FILTER (WHERE action = 'blocked') AS blocked_count,
    count(DISTINCT client_ip) AS source_count,
    (array_agg(DISTINCT host(client_ip)))[1:20] AS sources,
    count(DISTINCT coalesce(host, '') || split_part(request_uri, '?', 1)) AS target_count,
    count(DISTINCT val) AS value_count,
    coalesce(array_agg(DISTINCT rule_id ORDER BY rule_id) FILTER (WHERE rule_id IS NOT NULL), '{{}}') AS rule_ids,
    (array_agg(DISTINCT host || split_part(request_uri, '?', 1)))[1:20] AS targets,
    array_agg(DISTINCT host) FILTER (WHERE host IS NOT NULL) AS hosts
FROM matched
GROUP BY n, window_start, grp
ORDER BY window_start, grp
