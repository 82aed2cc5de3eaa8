-- The newest event time not in the future (a WAF with a skewed clock must not make the
-- table look fresh forever); the time index answers it from its first entries.
SELECT max(event_time) FROM waf_events WHERE event_time <= now()
