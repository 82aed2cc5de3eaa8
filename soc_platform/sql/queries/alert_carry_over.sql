-- A superseded incident's notifications carry over to its successor (README "Alerting"):
-- its outbox rows move to the new id (their dedup key stays), unless the successor already
-- holds the same (destination, event, severity, epoch). When several predecessors of one
-- successor hold the same key, the oldest row moves (its dedup key was the first sent) and
-- the others stay with their incident as history: one row per key, as the UNIQUE key wants.
WITH moving AS (
    SELECT DISTINCT ON (m.new_id, o.destination, o.event, o.severity, o.epoch)
           o.id, m.new_id
    FROM alert_outbox AS o
    JOIN unnest(%(old_ids)s::text[], %(new_ids)s::text[]) AS m(old_id, new_id)
      ON o.incident_id = m.old_id
    WHERE NOT EXISTS (
        SELECT 1 FROM alert_outbox AS n
        WHERE n.incident_id = m.new_id
          AND n.destination = o.destination
          AND n.event = o.event
          AND n.severity = o.severity
          AND n.epoch = o.epoch
    )
    ORDER BY m.new_id, o.destination, o.event, o.severity, o.epoch, o.id
)
UPDATE alert_outbox AS o
SET incident_id = moving.new_id
FROM moving
WHERE o.id = moving.id
