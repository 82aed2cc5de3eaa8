-- A destination no longer configured: dead at once (visible, not lost).
UPDATE alert_outbox SET status = 'dead', last_error = %(error)s, claimed_by = NULL,
                        claimed_until = NULL
WHERE id = ANY(%(ids)s::bigint[])
