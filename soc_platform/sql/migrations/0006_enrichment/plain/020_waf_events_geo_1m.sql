-- One-minute summary by autonomous system, country, rule and action: what analysts group
-- enriched events by ("attacks per AS in the last hour", "blocked requests by country").
-- Same name and columns as the TimescaleDB continuous aggregate; refreshed by bucket for
-- exactly the minutes a load touched (queries/refresh_waf_events_geo_1m.sql), in the load's
-- own transaction, and kept as long as waf_events_1m (SOC_AGG_1M_RETENTION_DAYS).
CREATE TABLE IF NOT EXISTS waf_events_geo_1m (
    bucket           timestamptz NOT NULL,
    source_as_number bigint,
    source_country   text,
    rule_id          text,
    action           text        NOT NULL,
    source_as_org    text,
    event_count      bigint      NOT NULL,
    status_4xx       bigint      NOT NULL,
    status_5xx       bigint      NOT NULL,
    first_seen       timestamptz NOT NULL,
    last_seen        timestamptz NOT NULL
)
