-- Superseded by incidents_rule_group_key_idx.
DROP INDEX IF EXISTS incidents_rule_group_window_idx
