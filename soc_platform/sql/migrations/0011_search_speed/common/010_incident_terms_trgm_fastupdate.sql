-- The typo lookup (queries/search_typo.sql) reads the vocabulary's trigram index. With GIN's
-- fast update, new words wait in a pending list that every lookup reads whole until a
-- VACUUM flushes it (3.3 ms instead of 1 ms at 15,000 words, growing with each run's new
-- words). A run adds few words: write them into the index at once.
ALTER INDEX incident_terms_trgm_idx SET (fastupdate = off)
