"""I/O adapters: the lake (pyiceberg), the hot store (psycopg), search, landing files."""
