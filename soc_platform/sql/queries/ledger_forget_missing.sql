-- Entries of files no longer in landing (retired by a run, or removed by someone): nothing
-- is left to process. Quarantined entries stay: their files live in the quarantine folder.
DELETE FROM landing_files
WHERE source = %(source)s
  AND state <> 'quarantined'
  AND path <> ALL(%(paths)s::text[])
