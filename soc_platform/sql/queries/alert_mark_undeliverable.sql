-- A destination no longer configured: dead at once (visible, not lost); only rows this
-- session still holds.
UPDATE alert_outbox SET status = 'dead', last_error = %(error)s, claimed_by = NULL,
                        claimed_until = NULL
WHERE id = ANY(%(ids)s::bigint[]) AND status = 'pending' AND claimed_by = pg_backend_pid()
