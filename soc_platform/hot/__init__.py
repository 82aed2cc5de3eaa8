"""The hot store: PostgreSQL or TimescaleDB (schema, loading, aggregates, maintenance) and
the embedded PostgreSQL server."""
