-- lock_search_backlog.sql without waiting: true when taken (an analyst's change sent at once;
-- when a drain runs, its entry stays queued for the next one).
SELECT pg_try_advisory_lock(746964, 2)
