-- TimescaleDB: background policy jobs whose last run failed.
SELECT j.job_id, j.proc_name, j.hypertable_name, s.last_run_status, s.total_failures
FROM timescaledb_information.jobs AS j
JOIN timescaledb_information.job_stats AS s USING (job_id)
WHERE s.last_run_status = 'Failed'
ORDER BY j.job_id
