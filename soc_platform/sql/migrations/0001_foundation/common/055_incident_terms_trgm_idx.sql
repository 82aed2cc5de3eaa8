CREATE INDEX IF NOT EXISTS incident_terms_trgm_idx ON incident_terms USING gin (term gin_trgm_ops)
