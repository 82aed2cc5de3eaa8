ALTER TABLE incidents ADD COLUMN IF NOT EXISTS source_asns bigint[] NOT NULL DEFAULT '{}'
