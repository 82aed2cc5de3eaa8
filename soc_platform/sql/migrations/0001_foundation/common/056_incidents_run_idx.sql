-- Finds the incidents a merged run supersedes (queries/supersede_incidents.sql).
CREATE INDEX IF NOT EXISTS incidents_rule_group_window_idx ON incidents (rule, client_ip, window_start)
