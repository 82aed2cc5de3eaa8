-- A destination no longer configured: dead at once (visible, not lost).
UPDATE alert_outbox SET status = 'dead', last_error = %(error)s
WHERE id = ANY(%(ids)s::bigint[])
