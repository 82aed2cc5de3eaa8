CREATE INDEX IF NOT EXISTS waf_events_daily_summary_day_idx ON waf_events_daily_summary (day, rule_id)
