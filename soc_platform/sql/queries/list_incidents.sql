SELECT id, type, rule, severity, client_ip, targets, start_time, end_time, window_start, window_end,
       event_count, blocked_count, rule_ids, description, attack_techniques, updated_at,
       group_key, group_fields, sources, source_count, target_count, score, score_reasons,
       status, suppression, suppressed_count, rule_title, rule_version, attack_tactics,
       source_countries, source_asns, user_agents, paths, notes
FROM incidents
WHERE (%(ids)s::text[] IS NULL OR id = ANY(%(ids)s::text[]))
  AND (%(lo)s::timestamptz IS NULL OR start_time >= %(lo)s::timestamptz)
  AND (%(hi)s::timestamptz IS NULL OR start_time < %(hi)s::timestamptz)
  -- `incidents --status/--severity/--rule/--ip` (tables.IncidentFilter)
  AND (%(statuses)s::text[] IS NULL OR status = ANY (%(statuses)s::text[]))
  AND (%(severities)s::text[] IS NULL OR severity = ANY (%(severities)s::text[]))
  AND (%(rules)s::text[] IS NULL OR rule = ANY (%(rules)s::text[]))
  AND (%(network)s::inet IS NULL OR EXISTS (
        SELECT 1
        FROM unnest(array_append(sources, client_ip)) AS s(ip)
        WHERE CASE WHEN s.ip ~ '^[0-9a-fA-F:.]+$' THEN s.ip::inet <<= %(network)s::inet END
      ))
ORDER BY start_time DESC, id
LIMIT %(limit)s
