SELECT id, matchers, starts_at, ends_at, comment, created_by, created_at
FROM alert_silences
WHERE starts_at <= now() AND ends_at > now()
ORDER BY id
