"""SQL as files: DDL under ``schema/`` (one idempotent statement per file, applied in name
order: ``common/`` and the chosen dialect folder merged), queries under ``queries/``."""

from importlib import resources

from psycopg import sql as pgsql

_ROOT = resources.files(__package__)


def query(name: str) -> pgsql.SQL:
    """The query ``queries/<name>.sql`` as a composable psycopg SQL object."""
    return pgsql.SQL(_ROOT.joinpath("queries", f"{name}.sql").read_text())


def schema_statements(dialect: str) -> list[tuple[str, pgsql.SQL]]:
    """(file name, statement) for the common DDL plus ``dialect``'s, in apply order."""
    files = sorted(
        (entry.name, f"{folder}/{entry.name}", entry.read_text())
        for folder in ("common", dialect)
        for entry in _ROOT.joinpath("schema", folder).iterdir()
        if entry.name.endswith(".sql")
    )
    return [(label, pgsql.SQL(text)) for _, label, text in files]
