-- Delivered: the intents marked sent (the claim released) and their attempt logged, in one
-- statement: its own short transaction, a single round trip per message. A trigger that
-- was canceled meanwhile (its lease ran out while it was being delivered, and its
-- incident closed) did reach its destination: its key's resolve is written here, after
-- it, unless the incident is open again (its next close resolves the key). A resolve of
-- that key and epoch already sent (possibly before this trigger arrived) is sent again.
-- The resolve carries the incident as it is now (closed), as a close's resolves do.
WITH before AS (
    SELECT id, status FROM alert_outbox WHERE id = ANY(%(ids)s::bigint[]) FOR UPDATE
),
sent AS (
    UPDATE alert_outbox AS o
    SET status = 'sent', attempts = o.attempts + 1, sent_at = now(), last_error = NULL,
        claimed_by = NULL, claimed_until = NULL
    FROM before AS b
    WHERE o.id = b.id
    RETURNING o.id, o.attempts, b.status AS was, o.event, o.incident_id, o.successor_id,
              o.dedup_key, o.route, o.destination, o.severity, o.epoch, o.group_key,
              o.incident
),
resolves AS (
    INSERT INTO alert_outbox (incident_id, dedup_key, route, destination, event, severity,
                              epoch, group_key, incident, status, created_at)
    SELECT DISTINCT ON (COALESCE(s.successor_id, s.incident_id), s.destination, s.dedup_key,
                        s.epoch)
           COALESCE(s.successor_id, s.incident_id), s.dedup_key, s.route, s.destination,
           'resolve', i.severity, s.epoch, s.group_key, to_jsonb(i) - 'search_doc',
           'pending', now()
    FROM sent AS s
    JOIN incidents AS i ON i.id = COALESCE(s.successor_id, s.incident_id)
    WHERE s.was = 'canceled' AND s.event = 'trigger'
      AND i.status IN ('resolved', 'false_positive')
    ORDER BY COALESCE(s.successor_id, s.incident_id), s.destination, s.dedup_key, s.epoch,
             s.id
    ON CONFLICT (incident_id, destination, dedup_key, epoch) WHERE event = 'resolve'
    DO UPDATE SET status = 'pending', next_attempt_at = now(), claimed_by = NULL,
                  claimed_until = NULL
        WHERE alert_outbox.status <> 'pending'
)
INSERT INTO alert_deliveries (outbox_id, message, destination, attempt, ok, http_status, error)
SELECT id, %(message)s, %(destination)s, attempts, true, %(http_status)s, NULL
FROM sent
