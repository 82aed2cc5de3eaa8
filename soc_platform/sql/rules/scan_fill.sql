-- One span of the shared scan (see scan_create.sql): every event of [lo, hi) is read once
-- (constant time bounds: the planner prunes day partitions / chunks and uses the time
-- index) and every rule's predicate is evaluated on it once; the events matching any rule
-- are kept with a flag per rule. OFFSET 0 keeps the subquery whole, so the planner does
-- not evaluate the predicates a second time in the outer filter.
INSERT INTO {table}
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
