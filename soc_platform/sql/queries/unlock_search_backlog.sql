SELECT pg_advisory_unlock(746964, 2)
