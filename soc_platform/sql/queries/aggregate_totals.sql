-- Events in [lo, hi) as the base table and each aggregate level count them (the bounds are
-- day-aligned, so every level's buckets fall wholly inside or outside).
SELECT
    (SELECT count(*) FROM waf_events
      WHERE event_time >= %(lo)s::timestamptz AND event_time < %(hi)s::timestamptz) AS waf_events,
    (SELECT coalesce(sum(event_count), 0) FROM waf_events_1m
      WHERE bucket >= %(lo)s::timestamptz AND bucket < %(hi)s::timestamptz) AS waf_events_1m,
    (SELECT coalesce(sum(event_count), 0) FROM waf_events_1h
      WHERE bucket >= %(lo)s::timestamptz AND bucket < %(hi)s::timestamptz) AS waf_events_1h,
    (SELECT coalesce(sum(event_count), 0) FROM waf_events_daily_summary
      WHERE day >= %(lo)s::timestamptz AND day < %(hi)s::timestamptz) AS waf_events_daily_summary
