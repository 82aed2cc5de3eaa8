UPDATE alert_outbox
SET status = 'sent', attempts = attempts + 1, sent_at = now(), last_error = NULL
WHERE id = ANY(%(ids)s::bigint[])
