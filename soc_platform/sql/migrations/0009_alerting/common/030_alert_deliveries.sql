-- The delivery log: one row per intent per attempt (the error with secrets redacted).
-- message: the first outbox id of the message it went in (webhook, Slack, Teams and email
-- send a route's group as one message); destination: for the per-destination rate limit.
CREATE TABLE IF NOT EXISTS alert_deliveries (
    id          bigserial PRIMARY KEY,
    outbox_id   bigint      NOT NULL REFERENCES alert_outbox (id) ON DELETE CASCADE,
    message     bigint      NOT NULL,
    destination text        NOT NULL,
    attempt     integer     NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    ok          boolean     NOT NULL,
    http_status integer,
    error       text
)
