-- The collation Sigma rules lower-case text under (correlation.sigma.backend.CI_COLLATION),
-- a copy of the one fold_collation.sql chose; kept once created (both lower-case alike).
CREATE COLLATION IF NOT EXISTS soc_fold FROM {source}
