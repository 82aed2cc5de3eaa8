INSERT INTO alert_silences (matchers, ends_at, comment, created_by)
VALUES (%(matchers)s, now() + %(duration)s::interval, %(comment)s, %(created_by)s)
RETURNING id, ends_at
