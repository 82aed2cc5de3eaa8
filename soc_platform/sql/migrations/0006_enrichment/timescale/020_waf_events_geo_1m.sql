-- One-minute summary by autonomous system, country, rule and action (see the plain
-- dialect's table of the same name). Materialized only, refreshed by the loader for the
-- minutes it touched, like waf_events_1m.
CREATE MATERIALIZED VIEW IF NOT EXISTS waf_events_geo_1m
WITH (timescaledb.continuous, timescaledb.materialized_only = true) AS
SELECT
    time_bucket(INTERVAL '1 minute', event_time) AS bucket,
    source_as_number,
    source_country,
    rule_id,
    action,
    max(source_as_org) AS source_as_org,
    count(*) AS event_count,
    count(*) FILTER (WHERE status_code BETWEEN 400 AND 499) AS status_4xx,
    count(*) FILTER (WHERE status_code BETWEEN 500 AND 599) AS status_5xx,
    min(event_time) AS first_seen,
    max(event_time) AS last_seen
FROM waf_events
GROUP BY 1, 2, 3, 4, 5
WITH NO DATA
