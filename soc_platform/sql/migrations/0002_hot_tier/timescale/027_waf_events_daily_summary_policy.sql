SELECT add_continuous_aggregate_policy(
    'waf_events_daily_summary',
    start_offset => INTERVAL '4 days',
    end_offset => INTERVAL '1 day',
    schedule_interval => INTERVAL '1 hour',
    if_not_exists => true
)
