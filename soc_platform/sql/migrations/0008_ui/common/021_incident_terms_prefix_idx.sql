-- Is a search word (a prefix) in the incidents' vocabulary? (queries/search_terms.sql:
-- LIKE 'word%' over this index, whatever the database's collation.)
CREATE INDEX IF NOT EXISTS incident_terms_prefix_idx ON incident_terms (term text_pattern_ops)
