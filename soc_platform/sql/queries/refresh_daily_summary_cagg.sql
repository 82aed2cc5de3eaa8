CALL refresh_continuous_aggregate('waf_events_daily_summary', %(lo)s::timestamptz, %(hi)s::timestamptz)
