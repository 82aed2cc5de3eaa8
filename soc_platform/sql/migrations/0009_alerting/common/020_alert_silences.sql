-- Silences: matchers (JSON object field -> value, every one must hold) with an expiry and
-- a comment. Intents a silence matches are recorded with status 'silenced', not dropped.
CREATE TABLE IF NOT EXISTS alert_silences (
    id          bigserial PRIMARY KEY,
    matchers    jsonb       NOT NULL,
    starts_at   timestamptz NOT NULL DEFAULT now(),
    ends_at     timestamptz NOT NULL,
    comment     text        NOT NULL,
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
)
