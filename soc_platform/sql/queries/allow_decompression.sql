-- TimescaleDB >= 2.14 caps the rows one DML transaction may decompress (100k by default);
-- rebuilding a compressed day rewrites the whole day, so lift the cap for this transaction
-- (where the setting exists: older versions have no cap).
SELECT set_config(name, '0', true)
FROM pg_settings
WHERE name = 'timescaledb.max_tuples_decompressed_per_dml_transaction'
