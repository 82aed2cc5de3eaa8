CREATE INDEX IF NOT EXISTS incidents_search_tsv_idx ON incidents USING gin (search_tsv)
