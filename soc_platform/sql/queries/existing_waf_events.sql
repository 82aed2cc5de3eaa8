-- 'p' (partitioned: plain dialect), 'r' (a hypertable is a regular table: TimescaleDB), or
-- no row when waf_events does not exist yet.
SELECT c.relkind::text FROM pg_class AS c WHERE c.oid = to_regclass('waf_events')
