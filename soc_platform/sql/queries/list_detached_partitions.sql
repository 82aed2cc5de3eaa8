-- Plain dialect: day tables no longer attached to waf_events (a maintenance run detached
-- them and failed before dropping them).
SELECT c.relname AS name
FROM pg_class AS c
JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE c.relname ~ '^waf_events_p[0-9]{8}$'
  AND c.relkind = 'r'
  AND n.nspname = current_schema()
  AND NOT EXISTS (SELECT 1 FROM pg_inherits AS i WHERE i.inhrelid = c.oid)
ORDER BY c.relname
