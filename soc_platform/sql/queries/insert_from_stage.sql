-- Idempotent on event_id: an event already in the hot table is skipped, not rewritten.
INSERT INTO waf_events
SELECT * FROM waf_events_stage
ON CONFLICT (event_time, event_id) DO NOTHING
