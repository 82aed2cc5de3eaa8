-- Trigram similarity for typo-tolerant incident search (embedded search backend).
CREATE EXTENSION IF NOT EXISTS pg_trgm
