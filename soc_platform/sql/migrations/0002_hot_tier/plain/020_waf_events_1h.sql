-- One-hour summary, rolled up from waf_events_1m (hierarchical, like the TimescaleDB
-- continuous aggregate of the same name).
CREATE TABLE IF NOT EXISTS waf_events_1h (
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
