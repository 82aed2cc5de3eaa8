-- A page of an incident's raw events from the hot store: its sources over its time range,
-- oldest first (waf_events_client_ip_time_idx).
SELECT event_time, client_ip::text AS client_ip, host, request_method, request_uri,
       status_code, user_agent, rule_id, rule_msg, action, source_country, source_as_number
FROM waf_events
WHERE client_ip = ANY(%(ips)s::inet[])
  AND event_time >= %(lo)s::timestamptz
  AND event_time <= %(hi)s::timestamptz
ORDER BY event_time, event_id
LIMIT %(limit)s OFFSET %(offset)s
