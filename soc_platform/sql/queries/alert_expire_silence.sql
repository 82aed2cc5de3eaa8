-- Expire a silence now (it stays listed with --all).
UPDATE alert_silences SET ends_at = now()
WHERE id = %(id)s AND ends_at > now()
RETURNING id
