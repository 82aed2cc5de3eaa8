-- For each new incident, the latest stored incident of its rule and group that started
-- before it (the reopen policy: is it closed, and how long ago did it end).
SELECT n.id AS successor, p.*
FROM unnest(
    %(ids)s::text[], %(rules)s::text[], %(group_keys)s::text[], %(window_starts)s::timestamptz[]
) AS n(id, rule, group_key, window_start)
CROSS JOIN LATERAL (
    SELECT id, rule, group_key, window_start, window_end, end_time, status, assignee, disposition, notes,
       status_by, reopened_count, closed_at, status_changed_at, previous_incident
    FROM incidents AS i
    WHERE i.rule = n.rule
      AND i.group_key = n.group_key
      AND i.window_start < n.window_start
    ORDER BY i.window_start DESC
    LIMIT 1
    FOR UPDATE
) AS p
