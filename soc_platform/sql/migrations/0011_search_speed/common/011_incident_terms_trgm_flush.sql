-- The words already waiting in the pending list, into the index.
SELECT gin_clean_pending_list('incident_terms_trgm_idx'::regclass)
