-- soc-platform status: the planner's row estimate of a table and its partitions or chunks
-- (-1 / NULL until the table was analyzed).
SELECT sum(c.reltuples)::bigint
FROM pg_class AS c
WHERE c.reltuples >= 0
  AND (c.oid = to_regclass(%(table)s)
       OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = to_regclass(%(table)s)))
