-- One setup at a time (several Dagster processes may start together); released with the
-- session. The key is an arbitrary constant private to soc-platform.
SELECT pg_advisory_lock(7469636001)
