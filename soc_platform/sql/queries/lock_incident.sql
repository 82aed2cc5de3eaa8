-- An incident an analyst changes, locked until the change commits (the engine's writes
-- lock the rows they merge into the same way), with the transaction's time.
SELECT id, type, rule, severity, client_ip, targets, start_time, end_time, window_start, window_end,
       event_count, blocked_count, rule_ids, description, attack_techniques, created_at,
       updated_at, group_key, group_fields, sources, source_count, target_count, score,
       score_reasons, status, suppression, suppressed_count, rule_title, rule_version,
       attack_tactics, assignee, disposition, notes, closed_at, status_changed_at, status_by,
       reopened_count, previous_incident, now() AS now
FROM incidents
WHERE id = %(id)s
FOR UPDATE
