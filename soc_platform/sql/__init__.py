"""SQL as files: DDL under ``schema/`` (one idempotent statement per file, applied in name
order: ``common/`` and the chosen dialect folder merged), queries under ``queries/``."""

from collections.abc import Mapping
from importlib import resources

from psycopg import sql as pgsql

_ROOT = resources.files(__package__)


def query(name: str) -> pgsql.SQL:
    """The query ``queries/<name>.sql`` as a composable psycopg SQL object."""
    return pgsql.SQL(_ROOT.joinpath("queries", f"{name}.sql").read_text())


# Per-dialect clauses that common DDL files take as {placeholders}.
_DIALECT_CLAUSES = {
    "plain": {"partitioning": pgsql.SQL("PARTITION BY RANGE (event_time)")},
    "timescale": {"partitioning": pgsql.SQL("")},
}


def schema_statements(dialect: str) -> list[tuple[str, pgsql.Composed | pgsql.SQL]]:
    """(file name, statement) for the common DDL plus ``dialect``'s, in apply order."""
    files = sorted(
        (entry.name, f"{folder}/{entry.name}", entry.read_text())
        for folder in ("common", dialect)
        for entry in _ROOT.joinpath("schema", folder).iterdir()
        if entry.name.endswith(".sql")
    )
    clauses = _DIALECT_CLAUSES[dialect]
    return [(label, _render(text, clauses)) for _, label, text in files]


def _render(text: str, clauses: Mapping[str, pgsql.SQL]) -> pgsql.Composed | pgsql.SQL:
    statement = pgsql.SQL(text)
    # only files that name a placeholder are formatted (DDL may contain literal braces)
    used = {k: v for k, v in clauses.items() if "{" + k + "}" in text}
    return statement.format(**used) if used else statement
