-- Every change of an incident's analyst-visible state, by whom and when: append-only
-- (030/031 refuse UPDATE and DELETE). No foreign key: the trail outlives an incident that
-- is superseded or retired, and a successor's trail includes its predecessors' rows
-- (action `inherited`, `old` = the predecessor's id).
CREATE TABLE IF NOT EXISTS incident_audit (
    id          bigserial   PRIMARY KEY,
    incident_id text        NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text        NOT NULL,
    action      text        NOT NULL,
    field       text,
    old         text,
    new         text,
    comment     text
)
