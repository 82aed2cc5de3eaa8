-- The most frequent user agents and paths of an incident's events (incident_event_facts.sql),
-- stored with the incident for the Meilisearch document (the embedded search has them in
-- search_doc already).
ALTER TABLE incidents ADD COLUMN IF NOT EXISTS user_agents text[] NOT NULL DEFAULT '{}'
