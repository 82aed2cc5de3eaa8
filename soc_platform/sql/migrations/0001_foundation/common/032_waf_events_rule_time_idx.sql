CREATE INDEX IF NOT EXISTS waf_events_rule_id_time_idx ON waf_events (rule_id, event_time DESC)
