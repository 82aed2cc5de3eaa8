-- soc-platform status: exact row count of one table (under a short statement_timeout).
SELECT count(*) FROM {table}
