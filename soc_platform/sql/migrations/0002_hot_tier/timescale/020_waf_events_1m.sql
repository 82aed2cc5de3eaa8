-- Real-time aggregation is off (materialized_only): every write to waf_events goes
-- through the loader, which refreshes exactly the minutes it touched right after the
-- commit, so the materialized buckets are already current when correlation or a
-- dashboard reads them. Real-time mode would add a scan of the raw hypertable past the
-- watermark to every query (compounding through the hierarchy), and would make the two
-- dialects answer differently: plain PostgreSQL's summary tables are materialized only.
CREATE MATERIALIZED VIEW IF NOT EXISTS waf_events_1m
WITH (timescaledb.continuous, timescaledb.materialized_only = true) AS
SELECT
    time_bucket(INTERVAL '1 minute', event_time) AS bucket,
    rule_id,
    client_ip,
    host,
    action,
    count(*) AS event_count,
    count(*) FILTER (WHERE status_code BETWEEN 400 AND 499) AS status_4xx,
    count(*) FILTER (WHERE status_code BETWEEN 500 AND 599) AS status_5xx,
    min(event_time) AS first_seen,
    max(event_time) AS last_seen
FROM waf_events
GROUP BY 1, 2, 3, 4, 5
WITH NO DATA
