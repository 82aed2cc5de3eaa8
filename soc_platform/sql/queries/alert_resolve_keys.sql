-- The dedup keys a closing incident resolves, one row per (destination, dedup key): every
-- trigger of it or of a predecessor whose rows stayed behind (successor_id) that may have
-- reached its destination: sent, being delivered (still pending after the cancel), or
-- attempted at all (a timeout may hide a delivery). Silenced and never-attempted canceled
-- triggers opened nothing: no resolve.
SELECT DISTINCT ON (destination, dedup_key) destination, dedup_key, route, group_key
FROM alert_outbox
WHERE (incident_id = %(id)s OR successor_id = %(id)s)
  AND event = 'trigger'
  AND (status IN ('sent', 'pending') OR (status IN ('canceled', 'dead') AND attempts > 0))
ORDER BY destination, dedup_key, id
