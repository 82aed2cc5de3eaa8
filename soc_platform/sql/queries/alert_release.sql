-- A round's claimed intents not yet delivered, released (only those this session still
-- holds): its lease would run out during the next message; the next round claims again.
UPDATE alert_outbox SET claimed_by = NULL, claimed_until = NULL
WHERE id = ANY(%(ids)s::bigint[]) AND claimed_by = pg_backend_pid()
