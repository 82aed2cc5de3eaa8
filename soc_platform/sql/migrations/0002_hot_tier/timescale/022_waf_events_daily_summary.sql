-- The seed's daily summary, rolled up from waf_events_1h. client_ip is a group key of the
-- hourly level, so count(DISTINCT client_ip) over a day's hourly rows is exact.
CREATE MATERIALIZED VIEW IF NOT EXISTS waf_events_daily_summary
WITH (timescaledb.continuous, timescaledb.materialized_only = true) AS
SELECT
    time_bucket(INTERVAL '1 day', bucket) AS day,
    rule_id,
    sum(event_count)::bigint AS event_count,
    count(DISTINCT client_ip) AS distinct_ips
FROM waf_events_1h
GROUP BY 1, 2
WITH NO DATA
