-- Retro-hunts: the incidents a candidate rule set would raise over past days, kept apart
-- from `incidents` so they can be compared (shadow diff) before the rules go live.
CREATE TABLE IF NOT EXISTS shadow_incidents (
    hunt           text        NOT NULL,
    day            date        NOT NULL,
    id             text        NOT NULL,
    rule           text        NOT NULL,
    rule_version   text        NOT NULL,
    group_key      text        NOT NULL,
    window_start   timestamptz NOT NULL,
    window_end     timestamptz NOT NULL,
    start_time     timestamptz NOT NULL,
    end_time       timestamptz NOT NULL,
    event_count    bigint      NOT NULL,
    severity       text        NOT NULL,
    score          integer     NOT NULL,
    description    text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (hunt, id)
)
