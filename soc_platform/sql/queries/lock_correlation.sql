-- Serialises correlation (evaluate + store incidents) across processes: a backfill's retire
-- step must not delete an incident a concurrent micro-batch found from events it did not see.
-- Session lock (the evaluation spans several transactions); released by unlock_correlation.sql.
SELECT pg_advisory_lock(746964, 1)
