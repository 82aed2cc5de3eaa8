-- After a partial refresh: keys whose count fell to 0 no longer exist.
WITH days AS (
    SELECT DISTINCT day FROM agg_delta
),
ips AS (
    DELETE FROM waf_events_daily_ips AS t USING days
    WHERE t.day = days.day AND t.event_count = 0
    RETURNING 1
)
DELETE FROM waf_events_daily_summary AS s USING days
WHERE s.day = days.day AND s.event_count = 0
