-- An incident's analyst-owned columns after a change (lifecycle.apply_change).
UPDATE incidents
SET status = %(status)s,
    assignee = %(assignee)s,
    disposition = %(disposition)s,
    notes = %(notes)s,
    status_by = %(status_by)s,
    reopened_count = %(reopened_count)s,
    closed_at = %(closed_at)s,
    status_changed_at = %(status_changed_at)s,
    updated_at = now()
WHERE id = %(id)s
RETURNING id, rule, severity, score, status, assignee, disposition, client_ip, group_key,
          start_time, end_time, event_count, previous_incident, false AS inserted
