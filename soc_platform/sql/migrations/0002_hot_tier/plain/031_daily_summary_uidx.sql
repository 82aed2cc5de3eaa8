CREATE UNIQUE INDEX IF NOT EXISTS waf_events_daily_summary_key
    ON waf_events_daily_summary (day, rule_id) NULLS NOT DISTINCT
