-- Searches filtered by rule (rule:...), newest first.
CREATE INDEX IF NOT EXISTS incidents_rule_start_idx ON incidents (rule, start_time DESC)
