-- Shadow diff of a retro-hunt: the candidate rules' incidents (shadow_incidents of the
-- hunt) against the live ones of the same rules and days. Incident ids are deterministic
-- (rule, group, first window), so the same id on both sides is the same incident.
WITH live AS (
    SELECT id, rule, group_key, window_start, window_end, event_count, severity, description
    FROM incidents
    WHERE rule = ANY (%(rules)s::text[])
      AND (window_start AT TIME ZONE 'UTC')::date = ANY (%(days)s::date[])
),
shadow AS (
    SELECT id, rule, group_key, window_start, window_end, event_count, severity, description
    FROM shadow_incidents
    WHERE hunt = %(hunt)s
      AND day = ANY (%(days)s::date[])
)
SELECT
    CASE
        WHEN l.id IS NULL THEN 'added'
        WHEN s.id IS NULL THEN 'removed'
        ELSE 'changed'
    END AS change,
    coalesce(s.id, l.id) AS id,
    coalesce(s.rule, l.rule) AS rule,
    coalesce(s.group_key, l.group_key) AS group_key,
    coalesce(s.window_start, l.window_start) AS window_start,
    l.event_count AS live_events,
    s.event_count AS shadow_events,
    l.severity AS live_severity,
    s.severity AS shadow_severity,
    coalesce(s.description, l.description) AS description
FROM shadow AS s
FULL JOIN live AS l ON l.id = s.id
WHERE l.id IS NULL
   OR s.id IS NULL
   OR (l.event_count, l.window_end, l.severity) IS DISTINCT FROM (s.event_count, s.window_end, s.severity)
ORDER BY window_start, rule, group_key
