-- Closing an incident cancels its triggers not yet sent (pending, or dead), its own and
-- those its merged predecessors left behind: sent after the resolve they would open an
-- alert that nothing resolves. A trigger a live sender is delivering right now stays
-- pending (the claim's ordering guard holds its resolve back until it is recorded).
UPDATE alert_outbox AS o
SET status = 'canceled', claimed_by = NULL, claimed_until = NULL
WHERE (o.incident_id = %(id)s OR o.successor_id = %(id)s)
  AND o.event = 'trigger'
  AND o.status IN ('pending', 'dead')
  AND NOT (o.status = 'pending'
           AND o.claimed_until > now()
           AND EXISTS (SELECT 1 FROM pg_stat_activity AS a WHERE a.pid = o.claimed_by))
