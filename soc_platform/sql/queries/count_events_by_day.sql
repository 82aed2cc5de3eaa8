-- Events per UTC day, for the given days (0 for a day without events).
SELECT
    d.day,
    (SELECT count(*) FROM waf_events AS e
      WHERE e.event_time >= d.day::timestamp AT TIME ZONE 'UTC'
        AND e.event_time < (d.day + 1)::timestamp AT TIME ZONE 'UTC') AS events
FROM unnest(%(days)s::date[]) AS d(day)
ORDER BY d.day
