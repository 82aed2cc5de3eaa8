-- The oldest entries of the search backlog (search/backlog.py: drain), up to a seq.
SELECT incident_id, op, seq
FROM search_backlog
WHERE seq <= %(upto)s AND (%(ids)s::text[] IS NULL OR incident_id = ANY(%(ids)s::text[]))
ORDER BY seq
LIMIT %(limit)s
