-- Alerting's transactional outbox (README "Alerting"): one row per notification intent,
-- written in the same transaction as the incident change that causes it (incidents/hooks.py)
-- and delivered later by the sender (soc_platform/alerts/sender.py).
-- "Exactly once per (incident, destination, state change)" is structural: the UNIQUE key
-- below refuses a second intent for the same incident, destination, event and severity in
-- the same repeat epoch (0, then 1, 2, ... each time a route's repeat interval passes).
-- incident_id follows a superseded incident to its successor (its history carries over);
-- dedup_key keeps the id the first notification was sent under (PagerDuty's dedup_key).
CREATE TABLE IF NOT EXISTS alert_outbox (
    id              bigserial PRIMARY KEY,
    incident_id     text        NOT NULL,
    dedup_key       text        NOT NULL,
    route           text        NOT NULL,
    destination     text        NOT NULL,
    event           text        NOT NULL CHECK (event IN ('trigger', 'resolve')),
    severity        text        NOT NULL,
    epoch           integer     NOT NULL DEFAULT 0,
    group_key       text        NOT NULL DEFAULT '',
    incident        jsonb       NOT NULL,
    status          text        NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sent', 'dead', 'silenced')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    last_error      text,
    silence_id      bigint,
    CONSTRAINT alert_outbox_once UNIQUE (incident_id, destination, event, severity, epoch)
)
