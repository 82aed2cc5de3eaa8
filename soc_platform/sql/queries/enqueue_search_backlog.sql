-- Queue incidents for the search backend (search/backlog.py: enqueue), in the transaction
-- that changes them. An incident queued again takes the new operation and a new seq, and
-- keeps the time it first waited.
INSERT INTO search_backlog (incident_id, op)
SELECT b.id, b.op
FROM unnest(%(ids)s::text[], %(ops)s::text[]) AS b(id, op)
ON CONFLICT (incident_id) DO UPDATE
SET op = EXCLUDED.op, seq = EXCLUDED.seq
