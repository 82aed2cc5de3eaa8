-- Plain dialect: the day partitions of waf_events (named waf_events_pYYYYMMDD).
SELECT c.relname AS name
FROM pg_inherits AS i
JOIN pg_class AS c ON c.oid = i.inhrelid
WHERE i.inhparent = 'waf_events'::regclass
ORDER BY c.relname
