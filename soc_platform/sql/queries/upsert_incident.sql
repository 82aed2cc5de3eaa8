INSERT INTO incidents (
    id, type, rule, severity, client_ip, targets, start_time, end_time, window_start,
    window_end, event_count, blocked_count, rule_ids, description, attack_techniques, search_doc,
    group_key, group_fields, sources, source_count, target_count, score, score_reasons, status,
    suppression, suppressed_count, rule_title, rule_version, attack_tactics, assignee, disposition, notes, status_by, reopened_count,
    closed_at, status_changed_at, previous_incident
) VALUES (
    %(id)s, %(type)s, %(rule)s, %(severity)s, %(client_ip)s, %(targets)s, %(start_time)s,
    %(end_time)s, %(window_start)s, %(window_end)s, %(event_count)s, %(blocked_count)s, %(rule_ids)s,
    %(description)s, %(attack_techniques)s, %(search_doc)s,
    %(group_key)s, %(group_fields)s, %(sources)s, %(source_count)s, %(target_count)s, %(score)s,
    %(score_reasons)s, %(status)s, %(suppression)s, %(suppressed_count)s, %(rule_title)s,
    %(rule_version)s, %(attack_tactics)s, %(assignee)s, %(disposition)s, %(notes)s, %(status_by)s,
    %(reopened_count)s, %(closed_at)s, %(status_changed_at)s, %(previous_incident)s
)
ON CONFLICT (id) DO UPDATE SET
    type = EXCLUDED.type,
    severity = EXCLUDED.severity,
    client_ip = EXCLUDED.client_ip,
    targets = EXCLUDED.targets,
    start_time = EXCLUDED.start_time,
    end_time = EXCLUDED.end_time,
    window_end = EXCLUDED.window_end,
    event_count = EXCLUDED.event_count,
    blocked_count = EXCLUDED.blocked_count,
    rule_ids = EXCLUDED.rule_ids,
    description = EXCLUDED.description,
    attack_techniques = EXCLUDED.attack_techniques,
    search_doc = EXCLUDED.search_doc,
    group_fields = EXCLUDED.group_fields,
    sources = EXCLUDED.sources,
    source_count = EXCLUDED.source_count,
    target_count = EXCLUDED.target_count,
    score = EXCLUDED.score,
    score_reasons = EXCLUDED.score_reasons,
    status = EXCLUDED.status,
    suppression = EXCLUDED.suppression,
    suppressed_count = EXCLUDED.suppressed_count,
    rule_title = EXCLUDED.rule_title,
    rule_version = EXCLUDED.rule_version,
    attack_tactics = EXCLUDED.attack_tactics,
    -- the analyst columns as the merge planned them (incidents/merge.py): the stored
    -- values unless the engine may change them, with the rows locked since they were read
    assignee = EXCLUDED.assignee,
    disposition = EXCLUDED.disposition,
    notes = EXCLUDED.notes,
    status_by = EXCLUDED.status_by,
    reopened_count = EXCLUDED.reopened_count,
    closed_at = EXCLUDED.closed_at,
    status_changed_at = EXCLUDED.status_changed_at,
    previous_incident = EXCLUDED.previous_incident,
    updated_at = now()
-- an unchanged re-evaluation rewrites nothing
WHERE (incidents.event_count, incidents.end_time, incidents.description, incidents.score,
       incidents.status, incidents.suppressed_count, incidents.rule_version, incidents.severity,
       incidents.assignee, incidents.disposition, incidents.notes, incidents.status_by,
       incidents.reopened_count, incidents.previous_incident)
      IS DISTINCT FROM
      (EXCLUDED.event_count, EXCLUDED.end_time, EXCLUDED.description, EXCLUDED.score,
       EXCLUDED.status, EXCLUDED.suppressed_count, EXCLUDED.rule_version, EXCLUDED.severity,
       EXCLUDED.assignee, EXCLUDED.disposition, EXCLUDED.notes, EXCLUDED.status_by,
       EXCLUDED.reopened_count, EXCLUDED.previous_incident)
RETURNING id, rule, severity, score, status, assignee, disposition, client_ip, group_key,
          start_time, end_time, event_count, previous_incident, (xmax = 0) AS inserted
