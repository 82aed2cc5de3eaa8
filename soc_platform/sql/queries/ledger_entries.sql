SELECT source, path, version, size, mtime_ns, state, claim, claimed_at, holder_host, holder_pid, holder_started, attempts, alone_failures, retry_group, last_error, first_failed_at, last_failed_at, next_attempt_at, quarantined_to, updated_at
FROM landing_files
WHERE source = %(source)s AND state = ANY(%(states)s::text[])
ORDER BY mtime_ns, path
