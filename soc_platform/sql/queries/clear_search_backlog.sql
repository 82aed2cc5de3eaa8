-- The embedded backend's drain: the incidents table is its index, nothing waits (entries
-- queued up to a seq are dropped; optionally only some incidents').
DELETE FROM search_backlog
WHERE seq <= %(upto)s AND (%(ids)s::text[] IS NULL OR incident_id = ANY(%(ids)s::text[]))
