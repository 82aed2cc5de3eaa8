-- Where an incident's sources are (from its events' enrichment), for the country: and asn:
-- search filters and facets. Written with the incident (queries/incident_event_facts.sql).
ALTER TABLE incidents ADD COLUMN IF NOT EXISTS source_countries text[] NOT NULL DEFAULT '{}'
