-- Due notifications that have waited (the alerts sensor's trigger).
SELECT count(*) FROM alert_outbox
WHERE status = 'pending' AND next_attempt_at <= now() - %(wait)s::interval
