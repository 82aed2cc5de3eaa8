-- The delivery log: one row per attempt (the error with secrets redacted).
CREATE TABLE IF NOT EXISTS alert_deliveries (
    id          bigserial PRIMARY KEY,
    outbox_id   bigint      NOT NULL REFERENCES alert_outbox (id) ON DELETE CASCADE,
    attempt     integer     NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    ok          boolean     NOT NULL,
    http_status integer,
    error       text
)
