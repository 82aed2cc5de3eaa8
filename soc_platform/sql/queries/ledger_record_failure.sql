-- The files of a failed claim (only while that claim still holds them: recorded once,
-- whoever notices first).
UPDATE landing_files AS f
SET state = 'failed',
    claim = NULL,
    claimed_at = NULL,
    holder_host = NULL,
    holder_pid = NULL,
    holder_started = NULL,
    attempts = u.attempts,
    alone_failures = u.alone_failures,
    retry_group = u.retry_group,
    last_error = %(error)s,
    first_failed_at = u.first_failed_at,
    last_failed_at = u.last_failed_at,
    next_attempt_at = u.next_attempt_at,
    updated_at = now()
FROM unnest(
    %(paths)s::text[],
    %(attempts)s::integer[],
    %(alone)s::integer[],
    %(groups)s::text[],
    %(first_failed)s::timestamptz[],
    %(last_failed)s::timestamptz[],
    %(next_attempt)s::timestamptz[]
) AS u(path, attempts, alone_failures, retry_group, first_failed_at, last_failed_at,
       next_attempt_at)
WHERE f.source = %(source)s AND f.path = u.path AND f.state = 'claimed' AND f.claim = %(claim)s
