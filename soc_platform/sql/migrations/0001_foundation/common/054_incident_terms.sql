-- Vocabulary of the incidents' full-text lexemes: a typo in a query is matched against
-- these few thousand words (trigram similarity), not against every incident's text.
CREATE TABLE IF NOT EXISTS incident_terms (
    term text PRIMARY KEY
)
