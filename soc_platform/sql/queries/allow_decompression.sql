-- TimescaleDB >= 2.14 caps the rows one DML transaction may decompress (100k by default);
-- rebuilding a compressed day rewrites the whole day, so lift the cap for this transaction.
SELECT set_config('timescaledb.max_tuples_decompressed_per_dml_transaction', '0', true)
