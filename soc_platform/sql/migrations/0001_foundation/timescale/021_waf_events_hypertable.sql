-- 1-day chunks; our own indexes follow in common/03x, so skip TimescaleDB's defaults.
SELECT create_hypertable(
    'waf_events',
    by_range('event_time', INTERVAL '1 day'),
    create_default_indexes => false,
    if_not_exists => true
)
