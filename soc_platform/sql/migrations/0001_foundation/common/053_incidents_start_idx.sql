CREATE INDEX IF NOT EXISTS incidents_start_time_idx ON incidents (start_time DESC)
