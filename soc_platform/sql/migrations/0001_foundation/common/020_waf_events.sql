-- Hot WAF events. {partitioning} is chosen per dialect by the setup step: plain
-- PostgreSQL partitions natively by range of event_time (day partitions are created on
-- demand by the loader, including for late and backfilled days); under TimescaleDB the
-- table is left plain here and turned into a hypertable with 1-day chunks by
-- timescale/021_waf_events_hypertable.sql. (Braces are doubled: this file is formatted.)
CREATE TABLE IF NOT EXISTS waf_events (
    event_id        text        NOT NULL,
    event_time      timestamptz NOT NULL,
    client_ip       inet        NOT NULL,
    host            text,
    request_method  text,
    request_uri     text,
    status_code     integer,
    user_agent      text,
    rule_id         text,
    rule_msg        text        NOT NULL DEFAULT '',
    rule_tags       text[]      NOT NULL DEFAULT '{{}}',
    action          text        NOT NULL,
    source_format   text        NOT NULL,
    source_file     text        NOT NULL,
    source_offset   bigint      NOT NULL,
    ingested_at     timestamptz NOT NULL
) {partitioning}
