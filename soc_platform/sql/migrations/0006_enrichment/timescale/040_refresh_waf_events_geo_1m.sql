-- Upgrading a deployment that holds events: materialize the aggregate once (outside a
-- transaction block, as TimescaleDB requires).
CALL refresh_continuous_aggregate('waf_events_geo_1m', NULL, NULL)
