"""The raw lake: Apache Iceberg tables of parsed events and dead letters (pyiceberg)."""
