-- Schema 1 indexed the daily summary without a key (it was rewritten day by day); schema 2
-- upserts by (day, rule_id), so the key replaces that index.
DROP INDEX IF EXISTS waf_events_daily_summary_day_idx
