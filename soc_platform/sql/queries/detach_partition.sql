-- CONCURRENTLY (outside a transaction block): waits for running queries instead of
-- taking an ACCESS EXCLUSIVE lock on waf_events.
ALTER TABLE waf_events DETACH PARTITION {partition} CONCURRENTLY
