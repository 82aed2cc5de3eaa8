INSERT INTO shadow_incidents (
    hunt, day, id, rule, rule_version, group_key, window_start, window_end, start_time,
    end_time, event_count, severity, score, description
) VALUES (
    %(hunt)s, %(day)s, %(id)s, %(rule)s, %(rule_version)s, %(group_key)s, %(window_start)s,
    %(window_end)s, %(start_time)s, %(end_time)s, %(event_count)s, %(severity)s, %(score)s,
    %(description)s
)
ON CONFLICT (hunt, id) DO UPDATE SET
    day = EXCLUDED.day,
    rule_version = EXCLUDED.rule_version,
    window_end = EXCLUDED.window_end,
    start_time = EXCLUDED.start_time,
    end_time = EXCLUDED.end_time,
    event_count = EXCLUDED.event_count,
    severity = EXCLUDED.severity,
    score = EXCLUDED.score,
    description = EXCLUDED.description
