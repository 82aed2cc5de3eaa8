-- Silences still active, or (with all) every silence, newest first.
SELECT id, matchers, starts_at, ends_at, comment, created_by, created_at,
       ends_at > now() AS active
FROM alert_silences
WHERE %(all)s OR ends_at > now()
ORDER BY id DESC
