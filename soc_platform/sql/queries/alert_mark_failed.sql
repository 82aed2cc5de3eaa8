-- A failed attempt: try again after the backoff, or dead after the last attempt; the
-- claim is released. A row canceled meanwhile (its lease had run out) stays canceled.
UPDATE alert_outbox
SET attempts = attempts + 1,
    last_error = %(error)s,
    next_attempt_at = now() + %(delay)s::interval,
    status = CASE WHEN attempts + 1 >= %(max_attempts)s THEN 'dead' ELSE 'pending' END,
    claimed_by = NULL,
    claimed_until = NULL
WHERE id = %(id)s AND status = 'pending'
