-- A micro-batch evaluated these windows of a rule for every group: the rule's incidents
-- whose first window is one of them and that it did not find again no longer start there
-- (their run now starts elsewhere, or a condition that can stop holding no longer does).
DELETE FROM incidents
WHERE rule = %(rule)s
  AND window_start = ANY (%(windows)s::timestamptz[])
  AND id <> ALL (%(ids)s::text[])
RETURNING id, rule, group_key, window_start, window_end, end_time, status, assignee, disposition,
          notes, status_by, reopened_count, closed_at, status_changed_at, previous_incident
