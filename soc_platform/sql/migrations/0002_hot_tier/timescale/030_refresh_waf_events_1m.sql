-- Upgrading a deployment that already holds events: materialize the aggregates once, in
-- hierarchy order (outside a transaction block, as TimescaleDB requires).
CALL refresh_continuous_aggregate('waf_events_1m', NULL, NULL)
