CALL refresh_continuous_aggregate('waf_events_1h', NULL, NULL)
