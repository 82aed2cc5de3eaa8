INSERT INTO incidents (
    id, type, rule, severity, client_ip, targets, start_time, end_time, window_start,
    window_end, event_count, blocked_count, rule_ids, description, attack_techniques, search_doc
) VALUES (
    %(id)s, %(type)s, %(rule)s, %(severity)s, %(client_ip)s, %(targets)s, %(start_time)s,
    %(end_time)s, %(window_start)s, %(window_end)s, %(event_count)s, %(blocked_count)s, %(rule_ids)s,
    %(description)s, %(attack_techniques)s, %(search_doc)s
)
ON CONFLICT (id) DO UPDATE SET
    severity = EXCLUDED.severity,
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
    updated_at = now()
WHERE (incidents.event_count, incidents.end_time, incidents.description)
      IS DISTINCT FROM (EXCLUDED.event_count, EXCLUDED.end_time, EXCLUDED.description)
