-- The incidents an outbox decision is about, whole (the engine's hook passes only some
-- columns; routes match on tactics, techniques and score reasons too).
SELECT * FROM incidents WHERE id = ANY(%(ids)s::text[])
