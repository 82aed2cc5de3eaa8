-- The intents already written for these incidents (the exactly-once decisions).
SELECT incident_id, destination, event, severity, epoch, created_at, dedup_key, status, route,
       group_key
FROM alert_outbox
WHERE incident_id = ANY(%(ids)s::text[])
ORDER BY id
