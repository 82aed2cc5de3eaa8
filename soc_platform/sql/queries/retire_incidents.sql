-- Re-evaluating whole days (a backfill): incidents of the re-evaluated rules whose first
-- window lies in one of those days and that the new evaluation did not find again no
-- longer have the events behind them. They are deleted (and dropped from the search index).
DELETE FROM incidents
WHERE rule = ANY (%(rules)s::text[])
  AND window_start >= %(lo)s::timestamptz
  AND window_start < %(hi)s::timestamptz
  AND (window_start AT TIME ZONE 'UTC')::date = ANY (%(days)s::date[])
  AND id <> ALL (%(ids)s::text[])
RETURNING id, rule, group_key, window_start, window_end, end_time, status, assignee, disposition,
          notes, status_by, reopened_count, closed_at, status_changed_at, previous_incident
