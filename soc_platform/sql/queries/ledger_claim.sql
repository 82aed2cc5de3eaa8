-- Atomic claim: only files still pending, or failed and due (any failed file with
-- retry_now: an operator's `soc-platform run`), are taken; a concurrent
-- claimer (the sensor, another `soc-platform run`) waits on the row locks, then finds
-- them claimed and skips them.
UPDATE landing_files
SET state = 'claimed',
    claim = %(claim)s,
    claimed_at = %(now)s,
    holder_host = %(host)s,
    holder_pid = %(pid)s,
    holder_started = %(started)s,
    updated_at = now()
WHERE source = %(source)s
  AND path = ANY(%(paths)s::text[])
  AND (state = 'pending'
       OR (state = 'failed'
           AND (%(retry_now)s OR next_attempt_at IS NULL OR next_attempt_at <= %(now)s)))
RETURNING source, path, version, size, mtime_ns, state, claim, claimed_at, holder_host, holder_pid, holder_started, attempts, alone_failures, retry_group, last_error, first_failed_at, last_failed_at, next_attempt_at, quarantined_to, updated_at
