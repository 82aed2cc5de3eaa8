-- Finds the incidents a merged run supersedes (queries/supersede_incidents.sql).
CREATE INDEX IF NOT EXISTS incidents_rule_group_key_idx ON incidents (rule, group_key, window_start)
