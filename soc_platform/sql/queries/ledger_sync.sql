-- Register the files listed in landing: new ones as pending; a pending or failed file whose
-- content changed (new version) starts over as pending.
INSERT INTO landing_files (source, path, version, size, mtime_ns)
SELECT %(source)s, l.path, l.version, l.size, l.mtime_ns
FROM unnest(%(paths)s::text[], %(versions)s::text[], %(sizes)s::bigint[], %(mtimes)s::bigint[])
    AS l(path, version, size, mtime_ns)
ON CONFLICT (source, path) WHERE state <> 'quarantined' DO UPDATE
SET version = EXCLUDED.version,
    size = EXCLUDED.size,
    mtime_ns = EXCLUDED.mtime_ns,
    state = 'pending',
    attempts = 0,
    alone_failures = 0,
    retry_group = NULL,
    last_error = NULL,
    first_failed_at = NULL,
    last_failed_at = NULL,
    next_attempt_at = NULL,
    updated_at = now()
WHERE landing_files.version <> EXCLUDED.version
  AND landing_files.state IN ('pending', 'failed')
