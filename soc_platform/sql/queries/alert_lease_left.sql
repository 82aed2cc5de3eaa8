-- Before each message: how many of its intents this session still holds with at least
-- %(margin)s of lease left (fewer than all: the round ends, see alert_release.sql).
SELECT count(*) FROM alert_outbox
WHERE id = ANY(%(ids)s::bigint[])
  AND status = 'pending'
  AND claimed_by = pg_backend_pid()
  AND claimed_until > now() + %(margin)s::interval
