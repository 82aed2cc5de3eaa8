DELETE FROM landing_files
WHERE source = %(source)s AND path = %(path)s AND state = %(state)s
  AND quarantined_to IS NOT DISTINCT FROM %(moved_to)s
