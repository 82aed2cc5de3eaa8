-- Entries the search backend has applied (its task succeeded): deleted only when not queued
-- again since they were read (same seq).
DELETE FROM search_backlog AS b
USING unnest(%(ids)s::text[], %(seqs)s::bigint[]) AS d(id, seq)
WHERE b.incident_id = d.id AND b.seq = d.seq
