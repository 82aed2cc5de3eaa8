-- Search sorted by score (queries/search_incidents.sql): walk this index and stop at LIMIT.
CREATE INDEX IF NOT EXISTS incidents_score_start_idx ON incidents (score DESC, start_time DESC)
