-- One drain of the search backlog at a time (search/backlog.drain), a session lock: two
-- drains sending the same incident could land an older document after a newer one, with
-- the queue already empty. (746964, 2): the correlation lock's class, another key.
SELECT pg_advisory_lock(746964, 2)
