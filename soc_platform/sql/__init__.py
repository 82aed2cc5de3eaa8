"""SQL as files.

* ``migrations/NNNN_name/{common,plain,timescale}/*.sql``: versioned schema migrations, one
  idempotent statement per file, applied in file-name order with the ``common`` folder and
  the chosen dialect's folder merged. The setup step applies the versions a database has
  not recorded yet (table ``soc_schema_version``).
* ``queries/*.sql``: every other statement, loaded by name.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

from psycopg import sql as pgsql

_ROOT = resources.files(__package__)
_MIGRATION_DIR = re.compile(r"^(\d{4})_([a-z0-9_]+)$")


def query(name: str) -> pgsql.SQL:
    """The query ``queries/<name>.sql`` as a composable psycopg SQL object."""
    return pgsql.SQL(_ROOT.joinpath("queries", f"{name}.sql").read_text())


# Per-dialect clauses that common DDL files take as {placeholders}.
_DIALECT_CLAUSES = {
    "plain": {"partitioning": pgsql.SQL("PARTITION BY RANGE (event_time)")},
    "timescale": {"partitioning": pgsql.SQL("")},
}


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: list[tuple[str, pgsql.Composed | pgsql.SQL]]  # (file label, statement)


def migrations(dialect: str) -> list[Migration]:
    """Every schema version for ``dialect``, oldest first."""
    found = []
    for entry in _ROOT.joinpath("migrations").iterdir():
        match = _MIGRATION_DIR.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], _statements(entry.name, dialect)))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a version number: {versions}")
    return found


def latest_version() -> int:
    return max(m.version for m in migrations("plain"))


def _statements(folder: str, dialect: str) -> list[tuple[str, pgsql.Composed | pgsql.SQL]]:
    base = _ROOT.joinpath("migrations", folder)
    files = sorted(
        (entry.name, f"{folder}/{sub}/{entry.name}", entry.read_text())
        for sub in ("common", dialect)
        if base.joinpath(sub).is_dir()
        for entry in base.joinpath(sub).iterdir()
        if entry.name.endswith(".sql")
    )
    clauses = _DIALECT_CLAUSES[dialect]
    return [(label, _render(text, clauses)) for _, label, text in files]


def _render(text: str, clauses: Mapping[str, pgsql.SQL]) -> pgsql.Composed | pgsql.SQL:
    statement = pgsql.SQL(text)
    # only files that name a placeholder are formatted (DDL may contain literal braces)
    used = {k: v for k, v in clauses.items() if "{" + k + "}" in text}
    return statement.format(**used) if used else statement
