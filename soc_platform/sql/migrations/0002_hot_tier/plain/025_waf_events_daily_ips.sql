-- Plain dialect only: events per day, rule and client IP. It lets a load keep the daily
-- summary's distinct-IP count exact without re-reading the whole day: the load adds its
-- per-IP deltas here, and an IP whose count goes from 0 to more (or back to 0) changes
-- distinct_ips by one (queries/refresh_daily_apply_delta.sql). TimescaleDB computes the
-- daily summary from waf_events_1h instead.
CREATE TABLE IF NOT EXISTS waf_events_daily_ips (
    day          timestamptz NOT NULL,
    rule_id      text,
    client_ip    inet        NOT NULL,
    event_count  bigint      NOT NULL
)
