-- Facet counts of a search: the same matches as search_incidents.sql (newest
-- first, capped by its LIMIT so the counts cost the same at any table size), counted per
-- status, severity, rule, tactic, technique, target host, country and AS.
WITH m AS MATERIALIZED ({matches})
SELECT 'status' AS facet, status AS value, count(*) AS n FROM m GROUP BY 2
UNION ALL SELECT 'severity', severity, count(*) FROM m GROUP BY 2
UNION ALL SELECT 'rule', rule, count(*) FROM m GROUP BY 2
UNION ALL SELECT 'tactic', t, count(*) FROM m, unnest(m.attack_tactics) AS t GROUP BY 2
UNION ALL SELECT 'technique', t, count(*) FROM m, unnest(m.attack_techniques) AS t GROUP BY 2
UNION ALL SELECT 'host', h, count(*)
    FROM m, LATERAL (SELECT DISTINCT lower(split_part(t, '/', 1)) AS h FROM unnest(m.targets) AS t) AS x
    GROUP BY 2
UNION ALL SELECT 'country', c, count(*) FROM m, unnest(m.source_countries) AS c GROUP BY 2
UNION ALL SELECT 'asn', a::text, count(*) FROM m, unnest(m.source_asns) AS a GROUP BY 2
ORDER BY 1, 3 DESC, 2
