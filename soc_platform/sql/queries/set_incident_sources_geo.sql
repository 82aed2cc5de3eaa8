-- The sources' countries and autonomous systems of incidents (incident_event_facts.sql),
-- rewritten only where they changed.
UPDATE incidents AS i
SET source_countries = g.countries, source_asns = g.asns
FROM (
    SELECT id, countries::text[], asns::bigint[]
    FROM jsonb_to_recordset(%(rows)s::jsonb) AS r(id text, countries text[], asns bigint[])
) AS g
WHERE i.id = g.id
  AND (i.source_countries, i.source_asns) IS DISTINCT FROM (g.countries, g.asns)
