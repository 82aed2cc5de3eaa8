-- Upgrading a schema-1 deployment: summarise the events already stored, once. (Later
-- refreshes recompute only the minutes a load touched.)
INSERT INTO waf_events_1m
SELECT
    date_bin(INTERVAL '1 minute', event_time, TIMESTAMPTZ '2000-01-01 00:00:00+00'),
    rule_id, client_ip, host, action,
    count(*),
    count(*) FILTER (WHERE status_code BETWEEN 400 AND 499),
    count(*) FILTER (WHERE status_code BETWEEN 500 AND 599),
    min(event_time),
    max(event_time)
FROM waf_events
GROUP BY 1, 2, 3, 4, 5
ON CONFLICT DO NOTHING
