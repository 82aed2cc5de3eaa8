-- One-minute summary by rule, client IP, host and action. Same name and columns as the
-- TimescaleDB continuous aggregate; refreshed by bucket for exactly the minutes a load
-- touched (queries/refresh_waf_events_1m.sql), in the load's own transaction. Only additive
-- measures, so the hour and day levels roll up from it exactly.
CREATE TABLE IF NOT EXISTS waf_events_1m (
    bucket        timestamptz NOT NULL,
    rule_id       text,
    client_ip     inet        NOT NULL,
    host          text,
    action        text        NOT NULL,
    event_count   bigint      NOT NULL,
    status_4xx    bigint      NOT NULL,
    status_5xx    bigint      NOT NULL,
    first_seen    timestamptz NOT NULL,
    last_seen     timestamptz NOT NULL
)
