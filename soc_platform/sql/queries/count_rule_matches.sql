-- Events of [lo, hi) a compiled rule predicate matches ({predicate}: SQL compiled by the
-- Sigma backend from a rule file; {lo} {hi}: literals).
SELECT count(*)
FROM waf_events AS e
WHERE e.event_time >= {lo}::timestamptz
  AND e.event_time < {hi}::timestamptz
  AND ({predicate})
