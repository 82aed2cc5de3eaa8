INSERT INTO landing_sources (source, last_fresh_failure_at) VALUES (%(source)s, %(at)s)
ON CONFLICT (source) DO UPDATE
SET last_fresh_failure_at = GREATEST(
    landing_sources.last_fresh_failure_at, EXCLUDED.last_fresh_failure_at
)
