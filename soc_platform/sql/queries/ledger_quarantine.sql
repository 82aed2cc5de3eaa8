UPDATE landing_files
SET state = 'quarantined',
    claim = NULL,
    claimed_at = NULL,
    holder_host = NULL,
    holder_pid = NULL,
    holder_started = NULL,
    next_attempt_at = NULL,
    quarantined_to = %(moved_to)s,
    last_error = %(reason)s,
    updated_at = now()
WHERE source = %(source)s AND path = %(path)s AND state = %(state)s
  AND claim IS NOT DISTINCT FROM %(claim)s
