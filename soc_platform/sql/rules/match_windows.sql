-- A compiled rule's firing windows: the (window, group) pairs meeting the rule's condition
-- (correlation.compiler renders it; the totals of a run are in match_totals.sql).
--   The names in braces are SQL the backend (correlation.sigma.backend) compiled from a Sigma
--   rule, never user values (predicate, flags, group key, value, having, ordered times); the
--   percent-names are bind parameters. Spans are the windows to evaluate, for any group
--   (`span_groups` NULL) or for one group (following a group's run outwards).
-- The rule's events are read once per call (`hits`, with constant time bounds, so the planner
-- prunes day partitions / chunks and uses the time index), then joined to the spans; only
-- the columns the condition needs are carried.
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
        e.event_time,
        {group_key} AS grp,
        {value} AS val,
        {flags}
    FROM {events} AS e
    WHERE e.event_time >= %(lo)s::timestamptz
      AND e.event_time < %(hi)s::timestamptz
      AND ({predicate})
),
-- groups that can meet the condition in a window: a count that a window reaches the whole
-- span reaches too, so groups below it over the span (most of them) never join the spans
candidates AS MATERIALIZED (
    SELECT grp
    FROM hits
    GROUP BY grp
    HAVING {prefilter}
),
candidate_hits AS MATERIALIZED (
    SELECT h.*
    FROM hits AS h
    WHERE h.grp IN (SELECT grp FROM candidates)
),
-- spans for any group join on time; spans of one group join on the group (a hash join:
-- following thousands of runs must not compare every event with every span)
matched AS (
    SELECT s.n, s.lo AS window_start, h.*
    FROM spans AS s
    JOIN candidate_hits AS h
      ON h.event_time >= s.lo
     AND h.event_time < s.hi
    WHERE s.grp IS NULL
    UNION ALL
    SELECT s.n, s.lo AS window_start, h.*
    FROM spans AS s
    JOIN candidate_hits AS h
      ON h.grp = s.grp
    WHERE h.event_time >= s.lo
      AND h.event_time < s.hi
)
SELECT
    grp AS group_key,
    window_start,
    {ordered_times} AS ordered_times
FROM matched
GROUP BY n, window_start, grp
HAVING {having}
ORDER BY window_start, grp
