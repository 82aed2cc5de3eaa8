-- An incident's events per minute, from the 1-minute aggregate (waf_events_1m): its
-- sources over its time range (the minutes it touches).
SELECT
    bucket,
    sum(event_count)::bigint AS events,
    (sum(event_count) FILTER (WHERE action = 'blocked'))::bigint AS blocked,
    sum(status_4xx)::bigint AS status_4xx,
    sum(status_5xx)::bigint AS status_5xx
FROM waf_events_1m
WHERE client_ip = ANY(%(ips)s::inet[])
  AND bucket >= date_trunc('minute', %(lo)s::timestamptz)
  AND bucket <= %(hi)s::timestamptz
GROUP BY bucket
ORDER BY bucket
