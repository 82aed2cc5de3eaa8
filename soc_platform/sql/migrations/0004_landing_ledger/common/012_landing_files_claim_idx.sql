CREATE INDEX IF NOT EXISTS landing_files_claim_idx ON landing_files (claim) WHERE claim IS NOT NULL
