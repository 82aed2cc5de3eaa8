-- The incidents' full-text index keeps GIN's fast update (every correlation run rewrites
-- incidents: writing each vector's lexemes into the index at once would slow the runs), but
-- its pending list, which every search through the index reads whole, is kept small: 256 kB
-- (32 pages) instead of 4 MB before the writer merges it into the index.
ALTER INDEX incidents_search_tsv_idx SET (gin_pending_list_limit = 256)
