-- The landing ledger: one record, shared by the micro-batch sensor and `soc-platform run`,
-- of every landing file not yet done. A file leaves it when a run that held it succeeded
-- (and moved it out of landing); a quarantined file stays, with where it went and why.
-- `source` names where files come from ('local': the landing directory; an S3 source gets
-- its own name), `path` is the file's path or object key, `version` its content identity
-- (size:mtime_ns locally, the ETag or version id on S3).
CREATE TABLE IF NOT EXISTS landing_files (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source          text        NOT NULL,
    path            text        NOT NULL,
    version         text        NOT NULL,
    size            bigint      NOT NULL,
    mtime_ns        bigint      NOT NULL,
    state           text        NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'claimed', 'failed', 'quarantined')),
    claim           text,
    claimed_at      timestamptz,
    holder_host     text,
    holder_pid      integer,
    holder_started  double precision,
    attempts        integer     NOT NULL DEFAULT 0,
    alone_failures  integer     NOT NULL DEFAULT 0,
    retry_group     text,
    last_error      text,
    first_failed_at timestamptz,
    last_failed_at  timestamptz,
    next_attempt_at timestamptz,
    quarantined_to  text,
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
)
