-- `soc-platform landing release` of a failed file: tried again at the next run, as new.
UPDATE landing_files
SET state = 'pending',
    attempts = 0,
    alone_failures = 0,
    retry_group = NULL,
    last_error = NULL,
    first_failed_at = NULL,
    last_failed_at = NULL,
    next_attempt_at = NULL,
    updated_at = now()
WHERE source = %(source)s AND path = %(path)s AND state = 'failed'
