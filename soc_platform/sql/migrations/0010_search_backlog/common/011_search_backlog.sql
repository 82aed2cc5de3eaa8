-- The search backlog (README "Search"): what the search backend (Meilisearch) still needs,
-- one row per incident id: `upsert` (the incident changed) or `delete` (it was superseded
-- or retired). Written in the same transaction as the incident change (incidents/tables.py,
-- incidents/lifecycle.py); drained by the micro-batch's index_incidents step, the
-- incident_index asset and `soc-platform search reindex`, which delete an entry only after
-- the backend's task succeeded (queries/drain_search_backlog.sql). `queued_at` is when the
-- incident first waited (kept when it is queued again): the age the check reports.
CREATE TABLE IF NOT EXISTS search_backlog (
    incident_id text        PRIMARY KEY,
    op          text        NOT NULL CHECK (op IN ('upsert', 'delete')),
    seq         bigint      NOT NULL DEFAULT nextval('search_backlog_seq'),
    queued_at   timestamptz NOT NULL DEFAULT now()
)
