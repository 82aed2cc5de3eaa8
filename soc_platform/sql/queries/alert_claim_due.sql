-- The sender's claim: due pending intents, locked for this transaction; a concurrent
-- sender skips them (and a sender killed before its commit releases them: resent later).
SELECT id, incident_id, dedup_key, route, destination, event, severity, group_key, incident,
       attempts
FROM alert_outbox
WHERE status = 'pending' AND next_attempt_at <= now()
ORDER BY id
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED
