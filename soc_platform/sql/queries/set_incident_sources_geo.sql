-- The sources' countries and autonomous systems of incidents, and their events' most
-- frequent user agents and paths (incident_event_facts.sql), rewritten only where they
-- changed.
UPDATE incidents AS i
SET source_countries = g.countries, source_asns = g.asns, user_agents = g.user_agents,
    paths = g.paths
FROM (
    SELECT id, countries::text[], asns::bigint[], user_agents::text[], paths::text[]
    FROM jsonb_to_recordset(%(rows)s::jsonb)
        AS r(id text, countries text[], asns bigint[], user_agents text[], paths text[])
) AS g
WHERE i.id = g.id
  AND (i.source_countries, i.source_asns, i.user_agents, i.paths)
      IS DISTINCT FROM (g.countries, g.asns, g.user_agents, g.paths)
