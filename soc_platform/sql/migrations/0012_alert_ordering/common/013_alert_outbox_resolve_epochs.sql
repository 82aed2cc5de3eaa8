-- Resolves are numbered by their own (destination, dedup key): the latest epoch of that
-- key's triggers (queries/alert_resolve_keys.sql). Resolves written before numbered them
-- by counting every resolve of the incident; moved out of the way (negative epochs, kept
-- as history) so they never take the number a later close needs. Idempotent: a re-run
-- (the TimescaleDB dialect re-runs a failed migration whole) leaves negative epochs be.
UPDATE alert_outbox SET epoch = -1 - epoch WHERE event = 'resolve' AND epoch >= 0
