CALL refresh_continuous_aggregate('waf_events_daily_summary', NULL, NULL)
