-- A successful run's files have left landing: their entries go.
DELETE FROM landing_files
WHERE source = %(source)s AND state = 'claimed' AND claim = %(claim)s
  AND path = ANY(%(paths)s::text[])
