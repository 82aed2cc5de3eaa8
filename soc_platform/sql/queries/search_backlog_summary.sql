-- How many incidents wait for the search backend, and since when (the search_backlog_empty
-- check), with the newest seq (a drain stops there).
SELECT count(*) AS pending,
       min(queued_at) AS oldest,
       coalesce(max(seq), 0) AS upto,
       count(*) FILTER (WHERE op = 'delete') AS deletes,
       now() AS now
FROM search_backlog
