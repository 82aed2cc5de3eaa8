-- The collation Sigma rules compare case-insensitively under (correlation.sigma.backend):
-- present when the server is built with ICU, as distribution packages and the official
-- images are.
SELECT EXISTS (SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu')
