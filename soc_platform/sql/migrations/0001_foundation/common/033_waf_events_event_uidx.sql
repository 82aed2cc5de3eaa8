-- Idempotency: an event (content hash) is stored once. The partition key must be part of
-- a unique index on a partitioned table / hypertable; event_time is a function of the
-- content, so (event_time, event_id) is as unique as event_id alone.
CREATE UNIQUE INDEX IF NOT EXISTS waf_events_event_uidx ON waf_events (event_time, event_id)
