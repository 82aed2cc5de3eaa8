-- Incidents related to one: same source IP, same /24 network, same autonomous system or
-- same target host; newest first, up to %(limit)s per relation.
WITH me AS (
    SELECT id, client_ip, sources, source_asns,
           ARRAY(SELECT DISTINCT lower(split_part(t, '/', 1)) FROM unnest(targets) AS t) AS hosts
    FROM incidents WHERE id = %(id)s
),
related AS (
    (SELECT 'same source IP' AS why, i.id FROM incidents AS i, me
     WHERE i.id <> me.id AND me.client_ip <> ''
       AND (i.client_ip = me.client_ip OR me.client_ip = ANY(i.sources))
     ORDER BY i.start_time DESC LIMIT %(limit)s)
    UNION ALL
    (SELECT 'same /24 network', i.id FROM incidents AS i, me
     WHERE i.id <> me.id AND me.client_ip ~ '^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$'
       AND i.client_ip ~ '^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$'
       AND i.client_ip <> me.client_ip
       AND i.client_ip::inet << set_masklen(me.client_ip::inet, 24)::cidr
     ORDER BY i.start_time DESC LIMIT %(limit)s)
    UNION ALL
    (SELECT 'same autonomous system', i.id FROM incidents AS i, me
     WHERE i.id <> me.id AND i.source_asns && me.source_asns
     ORDER BY i.start_time DESC LIMIT %(limit)s)
    UNION ALL
    (SELECT 'same target host', i.id FROM incidents AS i, me
     WHERE i.id <> me.id AND EXISTS (
        SELECT 1 FROM unnest(i.targets) AS t WHERE lower(split_part(t, '/', 1)) = ANY(me.hosts))
     ORDER BY i.start_time DESC LIMIT %(limit)s)
)
SELECT r.why, i.id, i.rule, i.severity, i.score, i.status, i.client_ip, i.start_time,
       i.description
FROM related AS r
JOIN incidents AS i ON i.id = r.id
ORDER BY r.why, i.start_time DESC
