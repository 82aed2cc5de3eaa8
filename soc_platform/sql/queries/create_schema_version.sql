-- Which schema migrations a database holds, and under which dialect they were applied.
CREATE TABLE IF NOT EXISTS soc_schema_version (
    version     integer     PRIMARY KEY,
    name        text        NOT NULL,
    dialect     text        NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
