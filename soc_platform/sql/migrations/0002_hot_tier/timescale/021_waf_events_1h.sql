-- Hierarchical: rolled up from waf_events_1m (sums, min, max are exact), so an hour
-- refresh reads at most 60 one-minute rows per group instead of the raw events.
CREATE MATERIALIZED VIEW IF NOT EXISTS waf_events_1h
WITH (timescaledb.continuous, timescaledb.materialized_only = true) AS
SELECT
    time_bucket(INTERVAL '1 hour', bucket) AS bucket,
    rule_id,
    client_ip,
    host,
    action,
    sum(event_count)::bigint AS event_count,
    sum(status_4xx)::bigint AS status_4xx,
    sum(status_5xx)::bigint AS status_5xx,
    min(first_seen) AS first_seen,
    max(last_seen) AS last_seen
FROM waf_events_1m
GROUP BY 1, 2, 3, 4, 5
WITH NO DATA
