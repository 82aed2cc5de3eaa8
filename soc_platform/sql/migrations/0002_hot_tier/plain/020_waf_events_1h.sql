-- One-hour summary, rolled up from waf_events_1m (hierarchical, like the TimescaleDB
-- continuous aggregate of the same name): the same columns.
CREATE TABLE IF NOT EXISTS waf_events_1h (LIKE waf_events_1m)
