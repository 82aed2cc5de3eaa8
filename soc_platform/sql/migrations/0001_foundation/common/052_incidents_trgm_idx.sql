CREATE INDEX IF NOT EXISTS incidents_search_doc_trgm_idx ON incidents USING gin (search_doc gin_trgm_ops)
