"""soc-platform: WAF events -> Iceberg lake -> PostgreSQL hot store -> incidents -> search."""

__version__ = "0.1.0"
