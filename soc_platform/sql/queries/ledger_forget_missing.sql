-- Entries of files no longer in landing (retired by a run, or removed by someone): nothing
-- is left to process. Quarantined entries stay: their files live in the quarantine folder.
-- (NOT EXISTS over the listing: a hash anti-join, linear in the number of files.)
DELETE FROM landing_files AS f
WHERE f.source = %(source)s
  AND f.state <> 'quarantined'
  AND NOT EXISTS (SELECT 1 FROM unnest(%(paths)s::text[]) AS l(path) WHERE l.path = f.path)
