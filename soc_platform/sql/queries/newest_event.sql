-- The newest event time (the time index answers it from its first entry).
SELECT max(event_time) FROM waf_events
