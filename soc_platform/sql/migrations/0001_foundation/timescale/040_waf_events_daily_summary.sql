-- Continuous aggregate (count(DISTINCT) needs TimescaleDB >= 2.7). Created empty; the
-- loader refreshes exactly the days it touched, and the policy below catches the rest.
CREATE MATERIALIZED VIEW IF NOT EXISTS waf_events_daily_summary
WITH (timescaledb.continuous) AS
SELECT
    time_bucket(INTERVAL '1 day', event_time) AS day,
    rule_id,
    count(*) AS event_count,
    count(DISTINCT client_ip) AS distinct_ips
FROM waf_events
GROUP BY 1, 2
WITH NO DATA
