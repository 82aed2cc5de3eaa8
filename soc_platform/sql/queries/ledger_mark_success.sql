INSERT INTO landing_sources (source, last_success_at) VALUES (%(source)s, %(at)s)
ON CONFLICT (source) DO UPDATE
SET last_success_at = GREATEST(landing_sources.last_success_at, EXCLUDED.last_success_at)
