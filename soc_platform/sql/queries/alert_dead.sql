SELECT id, incident_id, destination, route, event, severity, attempts, created_at, last_error
FROM alert_outbox
WHERE status = 'dead'
ORDER BY id DESC
LIMIT %(limit)s
