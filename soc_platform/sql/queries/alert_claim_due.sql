-- The sender's claim, in a short transaction of its own: due pending intents whose claim
-- has lapsed (none yet, its lease ran out, or the session that took it is gone: a killed
-- sender's rows are claimed again at once, at most a resend), leased to this session
-- (claimed_by: its backend pid). A concurrent sender skips the rows being claimed and those
-- leased. Ordering guard: a resolve waits while an earlier trigger of its (destination,
-- dedup key) is pending (in backoff, or being delivered), and a trigger (a reopened
-- incident) while an earlier resolve of it is: PagerDuty sees them in the order written.
WITH due AS (
    SELECT o.id
    FROM alert_outbox AS o
    WHERE o.status = 'pending'
      AND o.next_attempt_at <= now()
      AND (o.claimed_by IS NULL
           OR o.claimed_until <= now()
           OR NOT EXISTS (SELECT 1 FROM pg_stat_activity AS a WHERE a.pid = o.claimed_by))
      AND NOT EXISTS (
          SELECT 1 FROM alert_outbox AS p
          WHERE p.status = 'pending'
            AND p.destination = o.destination
            AND p.dedup_key = o.dedup_key
            AND p.id < o.id
            AND p.event <> o.event
      )
    ORDER BY o.id
    LIMIT %(limit)s
    FOR UPDATE OF o SKIP LOCKED
)
UPDATE alert_outbox AS o
SET claimed_by = pg_backend_pid(), claimed_until = now() + %(lease)s::interval
FROM due
WHERE o.id = due.id
RETURNING o.id, o.incident_id, o.dedup_key, o.route, o.destination, o.event, o.severity,
          o.group_key, o.incident, o.attempts
