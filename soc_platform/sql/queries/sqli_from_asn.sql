-- The seed's question: how many SQL injection attempts came from autonomous system
-- %(asn)s in the 15 minutes before %(now)s? "SQL injection attempt" as the rule
-- waf-sqli-event defines it: a CRS 942xxx rule, the tag attack-sqli, or a rule message
-- naming SQL injection. Reads the index waf_events_as_number_time_idx (migration 0006).
SELECT count(*) AS attempts
FROM waf_events AS e
WHERE e.source_as_number = %(asn)s::bigint
  AND e.event_time >= %(now)s::timestamptz - INTERVAL '15 minutes'
  AND e.event_time < %(now)s::timestamptz
  AND (
    e.rule_id ~ '^942[0-9]{3}$'
    OR EXISTS (SELECT FROM unnest(e.rule_tags) AS t (tag) WHERE lower(tag) = 'attack-sqli')
    OR e.rule_msg ILIKE '%%SQL Injection%%'
  )
