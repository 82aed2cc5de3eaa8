"""Fixtures of the TimescaleDB dialect suite: one PGlite+TimescaleDB server per session
(``serve.mjs``), an empty database per test.

The suite needs Node.js and the packages of ``package-lock.json`` (``make test`` runs
``npm ci --prefix tests/timescale``); without them it skips with that reason.
"""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.timescale.pglite import PGliteServer, connect, node_modules_ready, reset


@pytest.fixture(scope="session")
def pglite_server(shared_tmp: Path) -> Iterator[PGliteServer]:
    node = shutil.which("node")
    if node is None:
        pytest.skip(
            "node is not installed: the PGlite TimescaleDB suite needs Node.js 18+ and npm "
            "(make test then installs its packages)"
        )
    if not node_modules_ready():
        pytest.skip(
            "tests/timescale/node_modules is missing: run make test, or "
            "npm ci --prefix tests/timescale"
        )
    workdir = shared_tmp / "pglite"
    workdir.mkdir()
    server = PGliteServer(node, workdir)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def tsdb_dsn(pglite_server: PGliteServer) -> Iterator[str]:
    """The PGlite server, emptied for this test."""
    pglite_server.ensure_running()  # a WASM trap in an earlier test ends the server
    with connect(pglite_server.dsn) as conn:
        reset(conn)
    yield pglite_server.dsn
    if not pglite_server.alive():
        pytest.fail(f"the PGlite server died during the test:\n{pglite_server.log_tail()}")
