-- `incidents --status`, the rule statistics and the reopen policy's look-up.
CREATE INDEX IF NOT EXISTS incidents_status_idx ON incidents (status, start_time)
