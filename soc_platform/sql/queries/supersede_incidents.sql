-- An incident whose run now starts earlier, or that joined another run, has a new id (its
-- first window's): remove the incidents of the same rule and group whose first window is
-- one of the new incidents' firing windows (from its first to its last window start; not up
-- to its end: the next run of the group may start before this run's last window ends).
-- Set-based: one statement for the whole batch.
DELETE FROM incidents AS old
USING unnest(
    %(rules)s::text[],
    %(group_keys)s::text[],
    %(window_starts)s::timestamptz[],
    %(last_starts)s::timestamptz[],
    %(ids)s::text[]
) AS new(rule, group_key, window_start, last_start, id)
WHERE old.rule = new.rule
  AND old.group_key = new.group_key
  AND old.window_start >= new.window_start
  AND old.window_start <= new.last_start
  AND old.id <> ALL (%(ids)s::text[])
RETURNING old.id, old.rule, old.group_key, old.window_start, old.window_end, old.end_time,
          old.status, old.assignee, old.disposition, old.notes, old.status_by,
          old.reopened_count, old.closed_at, old.status_changed_at, old.previous_incident,
          new.id AS successor
