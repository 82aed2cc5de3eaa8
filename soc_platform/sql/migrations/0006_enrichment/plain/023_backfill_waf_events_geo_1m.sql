-- Upgrading a deployment that holds events: summarise them once (loaded before enrichment,
-- they count under an unknown AS and country).
INSERT INTO waf_events_geo_1m
SELECT
    date_bin(INTERVAL '1 minute', event_time, TIMESTAMPTZ '2000-01-01 00:00:00+00'),
    source_as_number, source_country, rule_id, action,
    max(source_as_org),
    count(*),
    count(*) FILTER (WHERE status_code BETWEEN 400 AND 499),
    count(*) FILTER (WHERE status_code BETWEEN 500 AND 599),
    min(event_time),
    max(event_time)
FROM waf_events
GROUP BY 1, 2, 3, 4, 5
ON CONFLICT DO NOTHING
