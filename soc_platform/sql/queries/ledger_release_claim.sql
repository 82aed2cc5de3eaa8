-- Files of a claim no run worked on (or that a run left): pending again, no failure counted.
UPDATE landing_files
SET state = CASE WHEN attempts > 0 THEN 'failed' ELSE 'pending' END,
    claim = NULL,
    claimed_at = NULL,
    holder_host = NULL,
    holder_pid = NULL,
    holder_started = NULL,
    next_attempt_at = NULL,
    updated_at = now()
WHERE source = %(source)s AND state = 'claimed' AND claim = %(claim)s
  AND (%(paths)s::text[] IS NULL OR path = ANY(%(paths)s::text[]))
