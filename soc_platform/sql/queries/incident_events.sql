-- An incident's events, paged: its source addresses over its time range (`incident show
-- --events`). No source known (a group of many): every event of the range.
SELECT event_time, host(client_ip) AS client_ip, host, request_method, request_uri, status_code,
       user_agent, rule_id, rule_msg, action, event_id
FROM waf_events
WHERE event_time >= %(lo)s::timestamptz
  AND event_time <= %(hi)s::timestamptz
  AND (cardinality(%(ips)s::inet[]) = 0 OR client_ip = ANY (%(ips)s::inet[]))
ORDER BY event_time, event_id
LIMIT %(limit)s OFFSET %(offset)s
