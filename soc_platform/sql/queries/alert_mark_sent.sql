-- Delivered: recorded in its own short transaction, the claim released.
UPDATE alert_outbox
SET status = 'sent', attempts = attempts + 1, sent_at = now(), last_error = NULL,
    claimed_by = NULL, claimed_until = NULL
WHERE id = ANY(%(ids)s::bigint[])
