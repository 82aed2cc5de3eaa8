-- One live entry per file; quarantined entries keep their landing path (to release them
-- back) while a new file of the same name may land.
CREATE UNIQUE INDEX IF NOT EXISTS landing_files_path_uidx
    ON landing_files (source, path) WHERE state <> 'quarantined'
