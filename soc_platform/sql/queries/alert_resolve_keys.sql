-- The dedup keys a closing incident resolves, one row per (destination, dedup key): every
-- trigger of it or of a predecessor whose rows stayed behind (successor_id) that may have
-- reached its destination: sent, being delivered (still pending after the cancel), or
-- attempted at all (a timeout may hide a delivery). Silenced and never-attempted canceled
-- triggers opened nothing: no resolve. Each resolve's epoch is its own key's: the latest
-- epoch of those triggers (trigger epochs are per destination, so one epoch for every
-- resolve of a close could name one a key already resolved and be dropped). The same
-- close written twice is one resolve per key; a key triggered again since its last
-- resolve (a reopened incident) has a higher epoch, so a new resolve.
SELECT destination, dedup_key,
       (array_agg(route ORDER BY id))[1] AS route,
       (array_agg(group_key ORDER BY id))[1] AS group_key,
       max(epoch) AS epoch
FROM alert_outbox
WHERE (incident_id = %(id)s OR successor_id = %(id)s)
  AND event = 'trigger'
  AND (status IN ('sent', 'pending') OR (status IN ('canceled', 'dead') AND attempts > 0))
GROUP BY destination, dedup_key
ORDER BY destination, dedup_key
