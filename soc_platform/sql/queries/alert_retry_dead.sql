-- Give dead intents another round of attempts.
UPDATE alert_outbox SET status = 'pending', attempts = 0, next_attempt_at = now(),
                        claimed_by = NULL, claimed_until = NULL
WHERE status = 'dead' AND (%(id)s::bigint IS NULL OR id = %(id)s::bigint)
RETURNING id
