-- The shared scan's table (correlation.compiler.scan_queries renders it; scan_fill.sql
-- fills it): the events of the evaluated spans that match any rule of the pack, every
-- column of waf_events plus one boolean per rule (each rule's compiled predicate,
-- SQL from the Sigma backend, never user values). A temporary table: one per session, so
-- concurrent evaluations never see each other's. Created empty; the time bounds bind
-- parameters only so that the statement has the fill's shape.
CREATE TEMPORARY TABLE {table} AS
SELECT *
FROM (
    SELECT
        e.*,
        {flags}
    FROM waf_events AS e
    WHERE e.event_time >= %(lo)s::timestamptz
      AND e.event_time < %(hi)s::timestamptz
    OFFSET 0
) AS s
WHERE {any_rule}
WITH NO DATA
