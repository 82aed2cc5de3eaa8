-- Serialises writers of one event day (micro-batch loads, day rebuilds) until the end of
-- the transaction. The caller takes its days in sorted order, so writers never deadlock.
SELECT pg_advisory_xact_lock(746963, (%(day)s::date - DATE '2000-01-01'))
