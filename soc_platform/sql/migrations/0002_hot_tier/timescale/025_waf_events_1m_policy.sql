-- Safety nets for writes that bypass the loader (which refreshes what it touched). Every
-- start_offset is far inside the shortest allowed raw retention (settings: >= 7 days), so
-- a policy never refreshes a range whose raw chunks were dropped, which would empty the
-- aggregate there.
SELECT add_continuous_aggregate_policy(
    'waf_events_1m',
    start_offset => INTERVAL '2 days',
    end_offset => INTERVAL '1 minute',
    schedule_interval => INTERVAL '5 minutes',
    if_not_exists => true
)
