-- One notification intent; the UNIQUE keys (alert_outbox_trigger_once, _resolve_once)
-- drop a second one for the same state change.
INSERT INTO alert_outbox (incident_id, dedup_key, route, destination, event, severity, epoch,
                          group_key, incident, status, silence_id, created_at)
VALUES (%(incident_id)s, %(dedup_key)s, %(route)s, %(destination)s, %(event)s, %(severity)s,
        %(epoch)s, %(group_key)s, %(incident)s, %(status)s, %(silence_id)s,
        %(created_at)s)
ON CONFLICT DO NOTHING
