-- Rate-limited: later, without counting an attempt; the claim released (only rows this
-- session still holds).
UPDATE alert_outbox
SET next_attempt_at = now() + %(delay)s::interval, claimed_by = NULL, claimed_until = NULL
WHERE id = ANY(%(ids)s::bigint[]) AND status = 'pending' AND claimed_by = pg_backend_pid()
