-- The stored incidents an engine write updates, locked until it commits (an analyst's
-- change waits, and is not overwritten): their analyst columns and what the merge needs.
SELECT id, rule, group_key, window_start, window_end, end_time, status, assignee, disposition, notes,
       status_by, reopened_count, closed_at, status_changed_at, previous_incident
FROM incidents
WHERE id = ANY (%(ids)s::text[])
ORDER BY id
FOR UPDATE
