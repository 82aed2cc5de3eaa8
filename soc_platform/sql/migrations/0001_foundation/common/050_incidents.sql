-- Incidents: the system of record. `id` is deterministic (rule, group, first window of the
-- run of consecutive firing windows), so re-evaluating a window updates the row instead
-- of adding one.
CREATE TABLE IF NOT EXISTS incidents (
    id                 text        PRIMARY KEY,
    type               text        NOT NULL,
    rule               text        NOT NULL,
    severity           text        NOT NULL,
    client_ip          text        NOT NULL,
    targets            text[]      NOT NULL DEFAULT '{}',
    start_time         timestamptz NOT NULL,
    end_time           timestamptz NOT NULL,
    window_start       timestamptz NOT NULL,
    window_end         timestamptz NOT NULL,
    event_count        bigint      NOT NULL,
    blocked_count      bigint      NOT NULL,
    rule_ids           text[]      NOT NULL DEFAULT '{}',
    description        text        NOT NULL,
    attack_techniques  text[]      NOT NULL DEFAULT '{}',
    search_doc         text        NOT NULL,
    search_tsv         tsvector    GENERATED ALWAYS AS (to_tsvector('english', search_doc)) STORED,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
)
