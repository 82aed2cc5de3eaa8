-- TimescaleDB: materialize a continuous aggregate for [lo, hi) (bucket-aligned by the
-- caller). Cannot run inside a transaction block.
CALL refresh_continuous_aggregate({view}, %(lo)s::timestamptz, %(hi)s::timestamptz)
