-- Schema 1's daily summary aggregated the hypertable directly; schema 2 rolls it up from
-- waf_events_1h (hierarchical). Dropping the view drops its policy; 032 refills it.
DROP MATERIALIZED VIEW IF EXISTS waf_events_daily_summary
