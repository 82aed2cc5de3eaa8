-- Safety net for writes that bypass the loader, as for waf_events_1m.
SELECT add_continuous_aggregate_policy(
    'waf_events_geo_1m',
    start_offset => INTERVAL '2 days',
    end_offset => INTERVAL '1 minute',
    schedule_interval => INTERVAL '5 minutes',
    if_not_exists => true
)
