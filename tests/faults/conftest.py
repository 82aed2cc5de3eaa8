"""Fixtures of the fault-injection suite: the input (once per session), the state of an
uninterrupted run over it (the reference, once per session), and a fresh data directory and
database per case. The summary table (lines in, events, dead letters, quarantined files,
kills survived, time per case) is printed at the end of the session."""

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from soc_platform.hot.embedded import EmbeddedPostgres
from tests.faults import faultkit


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if faultkit.ROWS:
        terminalreporter.section("fault injection: every case against the reference")
        for line in faultkit.table():
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def pycache(shared_tmp: Path) -> Path:
    path = shared_tmp / "pycache"
    path.mkdir(exist_ok=True)
    return path


def new_database(cluster: EmbeddedPostgres) -> str:
    name = f"f_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(cluster.dsn("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return cluster.dsn(name)


@pytest.fixture(scope="session")
def fault_input(shared_tmp: Path, pycache: Path) -> faultkit.Input:
    folder = shared_tmp / "fault-input" / "files"
    folder.mkdir(parents=True)
    return faultkit.make_input(folder, faultkit.child_env({}, pycache))


@dataclass
class Case:
    """A fresh data directory (with the input in its landing area) and database."""

    env: dict[str, str]
    dsn: str
    data: faultkit.Input
    started: float

    @property
    def data_dir(self) -> Path:
        return Path(self.env["SOC_DATA_DIR"])

    def run(self, *args: str, **extra: str) -> "faultkit.subprocess.CompletedProcess[str]":
        return faultkit.cli({**self.env, **extra}, "run", *args)

    def snapshot(self) -> faultkit.State:
        return faultkit.snapshot(self.env, self.dsn)


def make_case(root: Path, dsn: str, data: faultkit.Input, pycache: Path) -> Case:
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    env = faultkit.child_env(
        {
            "SOC_DATA_DIR": str(root / "data"),
            "SOC_PG_DSN": dsn,
            "SOC_LANDING_RETRY_BASE_SECONDS": "0",
            "SOC_LANDING_RETRY_MAX_SECONDS": "0",
        },
        pycache,
    )
    data.land(root / "data" / "landing")
    return Case(env, dsn, data, time.monotonic())


@pytest.fixture(scope="session")
def reference(
    shared_tmp: Path,
    pg_cluster: EmbeddedPostgres,
    fault_input: faultkit.Input,
    pycache: Path,
) -> faultkit.State:
    """The state an uninterrupted `soc-platform run` leaves over the input."""
    case = make_case(shared_tmp / "fault-reference", new_database(pg_cluster), fault_input, pycache)
    done = case.run()
    assert done.returncode == 0, done.stderr
    state = case.snapshot()
    # the reference itself: every line is an event or a dead letter, nothing left over
    hostile = [o for _, o in fault_input.hostile]
    assert state.lake_events == state.lake_distinct == state.hot_rows == state.hot_distinct
    assert state.lake_events == fault_input.total_lines - len(state.dead_letters) - hostile.count(
        "duplicate"
    )
    assert sorted(state.dead_letters_by().elements()) == sorted(
        (faultkit.HOSTILE, o) for o in hostile if o not in ("event", "duplicate")
    )
    assert len({i["rule"] for i in state.incidents}) >= 3, state.incidents  # several rules
    assert state.landing_files == state.quarantined_files == state.ledger_entries == []
    faultkit.record("reference", 0, fault_input.total_lines, state, time.monotonic() - case.started)
    return state


@pytest.fixture
def case(work_dir: Path, pg_dsn: str, fault_input: faultkit.Input, pycache: Path) -> Iterator[Case]:
    yield make_case(work_dir, pg_dsn, fault_input, pycache)
