-- A superseded incident's notifications carry over to its successor (README "Alerting"):
-- its outbox rows move to the new id (their dedup key stays), unless the successor already
-- holds the same key (a trigger's destination, severity and epoch; a resolve's
-- destination, dedup key and epoch). When several predecessors of one successor hold the
-- same key, the oldest row moves (its dedup key was the first sent) and the others stay
-- with their incident as history, one row per key as the UNIQUE keys want, with
-- successor_id naming the incident that now holds them (so closing it resolves their dedup
-- keys too); rows left behind earlier that named the superseded incident follow along.
WITH pairs AS (
    SELECT * FROM unnest(%(old_ids)s::text[], %(new_ids)s::text[]) AS m(old_id, new_id)
),
moving AS (
    SELECT DISTINCT ON (m.new_id, o.destination, o.event, o.epoch,
                        CASE WHEN o.event = 'trigger' THEN o.severity ELSE o.dedup_key END)
           o.id, m.new_id
    FROM alert_outbox AS o
    JOIN pairs AS m ON o.incident_id = m.old_id
    WHERE NOT EXISTS (
        SELECT 1 FROM alert_outbox AS n
        WHERE n.incident_id = m.new_id
          AND n.destination = o.destination
          AND n.event = o.event
          AND n.epoch = o.epoch
          AND CASE WHEN o.event = 'trigger' THEN n.severity = o.severity
                   ELSE n.dedup_key = o.dedup_key END
    )
    ORDER BY m.new_id, o.destination, o.event, o.epoch,
             CASE WHEN o.event = 'trigger' THEN o.severity ELSE o.dedup_key END, o.id
),
moved AS (
    UPDATE alert_outbox AS o
    SET incident_id = moving.new_id, successor_id = NULL
    FROM moving
    WHERE o.id = moving.id
    RETURNING o.id
)
UPDATE alert_outbox AS o
SET successor_id = m.new_id
FROM pairs AS m
WHERE (o.incident_id = m.old_id OR o.successor_id = m.old_id)
  AND o.id NOT IN (SELECT id FROM moved)
