-- The most frequent URL paths of an incident's events (see 020_incidents_user_agents.sql).
ALTER TABLE incidents ADD COLUMN IF NOT EXISTS paths text[] NOT NULL DEFAULT '{}'
