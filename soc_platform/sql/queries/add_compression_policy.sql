-- The pre-2.18 compression API: still supported by the newest TimescaleDB (the columnstore
-- names arrived in 2.18 only), so it covers every version with by_range (2.13+).
SELECT add_compression_policy({relation}, compress_after => {interval}, if_not_exists => true)
