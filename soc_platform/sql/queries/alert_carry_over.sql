-- A superseded incident's notifications carry over to its successor (README "Alerting"):
-- its outbox rows move to the new id (their dedup key stays), unless the successor already
-- holds the same (destination, event, severity, epoch).
UPDATE alert_outbox AS o
SET incident_id = m.new_id
FROM unnest(%(old_ids)s::text[], %(new_ids)s::text[]) AS m(old_id, new_id)
WHERE o.incident_id = m.old_id
  AND NOT EXISTS (
      SELECT 1 FROM alert_outbox AS n
      WHERE n.incident_id = m.new_id
        AND n.destination = o.destination
        AND n.event = o.event
        AND n.severity = o.severity
        AND n.epoch = o.epoch
  )
