-- A failed attempt: try again after the backoff, or dead after the last attempt; the
-- claim is released. Only a row this session still holds: one canceled meanwhile stays
-- canceled, one another sender claimed (this lease had run out) stays that sender's.
UPDATE alert_outbox
SET attempts = attempts + 1,
    last_error = %(error)s,
    next_attempt_at = now() + %(delay)s::interval,
    status = CASE WHEN attempts + 1 >= %(max_attempts)s THEN 'dead' ELSE 'pending' END,
    claimed_by = NULL,
    claimed_until = NULL
WHERE id = %(id)s AND status = 'pending' AND claimed_by = pg_backend_pid()
