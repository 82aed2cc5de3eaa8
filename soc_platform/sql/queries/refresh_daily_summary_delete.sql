DELETE FROM waf_events_daily_summary WHERE day = ANY(%(days)s::timestamptz[])
