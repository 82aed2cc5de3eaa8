-- Rate-limited: later, without counting an attempt.
UPDATE alert_outbox SET next_attempt_at = now() + %(delay)s::interval
WHERE id = ANY(%(ids)s::bigint[])
