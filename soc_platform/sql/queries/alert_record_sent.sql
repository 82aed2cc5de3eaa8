-- Delivered: the intents marked sent (the claim released) and their attempt logged, in one
-- statement: its own short transaction, a single round trip per message.
WITH sent AS (
    UPDATE alert_outbox
    SET status = 'sent', attempts = attempts + 1, sent_at = now(), last_error = NULL,
        claimed_by = NULL, claimed_until = NULL
    WHERE id = ANY(%(ids)s::bigint[])
    RETURNING id, attempts
)
INSERT INTO alert_deliveries (outbox_id, message, destination, attempt, ok, http_status, error)
SELECT id, %(message)s, %(destination)s, attempts, true, %(http_status)s, NULL
FROM sent
