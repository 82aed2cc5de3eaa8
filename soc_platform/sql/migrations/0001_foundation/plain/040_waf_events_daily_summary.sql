-- Daily summary by rule. Same name and columns as the TimescaleDB continuous aggregate;
-- refreshed incrementally (only the days a load touched) by queries/refresh_daily_summary_*.
CREATE TABLE IF NOT EXISTS waf_events_daily_summary (
    day           timestamptz NOT NULL,
    rule_id       text,
    event_count   bigint      NOT NULL,
    distinct_ips  bigint      NOT NULL
)
