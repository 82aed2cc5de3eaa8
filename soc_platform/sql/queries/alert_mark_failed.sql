-- A failed attempt: try again after the backoff, or dead after the last attempt.
UPDATE alert_outbox
SET attempts = attempts + 1,
    last_error = %(error)s,
    next_attempt_at = now() + %(delay)s::interval,
    status = CASE WHEN attempts + 1 >= %(max_attempts)s THEN 'dead' ELSE 'pending' END
WHERE id = %(id)s
