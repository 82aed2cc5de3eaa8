"""`soc-platform run` killed with SIGKILL at every fault point, then run again: the final
state equals the uninterrupted run's exactly (0 events lost, 0 duplicated, the same dead
letters, hot rows, aggregates, incidents and search results; landing, ledger and
quarantine empty; no Dagster run left unfinished).

The cases are independent (a data directory and a database each) and mostly wait on
subprocesses, so they run two at a time once per module; each test checks its own case.
"""

import json
import subprocess
import time
import traceback
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from soc_platform import faults
from soc_platform.hot.embedded import EmbeddedPostgres
from tests.faults import faultkit
from tests.faults.conftest import make_case, new_database

pytestmark = pytest.mark.faults

#: Killed inside the COPY, then (the batch retried whole) after correlation's evaluation:
#: the third run halves the batch (two failures), and the halves must still give what one
#: uninterrupted run gives.
TWICE = ("hot_copy_slice", "correlation_rule")
CASES = [(p,) for p in faults.POINTS] + [TWICE]


@dataclass
class Outcome:
    killed: list[subprocess.CompletedProcess[str]] = field(default_factory=list)
    orphans_after_kill: int = 0
    again: subprocess.CompletedProcess[str] | None = None
    state: faultkit.State | None = None
    seconds: float = 0.0  # from the case's start to its snapshot (two cases at once)
    error: str | None = None  # the case could not be carried out (its traceback)


@pytest.fixture(scope="module")
def outcomes(
    shared_tmp: Path,
    pg_cluster: EmbeddedPostgres,
    fault_input: faultkit.Input,
    pycache: Path,
    reference: faultkit.State,
) -> dict[tuple[str, ...], Outcome]:
    def one(points: Sequence[str]) -> Outcome:
        out = Outcome()
        try:
            root = shared_tmp / "kill-cases" / "-".join(points)
            case = make_case(root, new_database(pg_cluster), fault_input, pycache)
            out.killed = [case.run(SOC_FAULT=f"kill:{point}") for point in points]
            out.orphans_after_kill = faultkit.orphan_files(case.env)
            out.again = case.run("--json")
            if out.again.returncode == 0:
                out.state = case.snapshot()
            out.seconds = time.monotonic() - case.started
        except Exception:  # reported by the case's own test
            out.error = traceback.format_exc()
        return out

    with ThreadPoolExecutor(2) as pool:
        return dict(zip(CASES, pool.map(one, CASES), strict=True))


@pytest.mark.parametrize("points", CASES, ids=["-".join(c) for c in CASES])
def test_killed_then_run_again(
    points: tuple[str, ...],
    outcomes: dict[tuple[str, ...], Outcome],
    reference: faultkit.State,
    fault_input: faultkit.Input,
) -> None:
    out = outcomes[points]
    assert out.error is None, out.error
    assert out.again is not None
    for point, killed in zip(points, out.killed, strict=True):
        assert killed.returncode == -9, f"the run did not reach {point}:\n{killed.stderr}"
    if "lake_data_written" in points:  # the events' data files written, not committed
        assert out.orphans_after_kill > 0
    assert out.again.returncode == 0, out.again.stderr
    # a batch's first failure is retried whole, the second halves it (a kill at
    # retire_file: the first file had left landing)
    files = len(fault_input.lines) - (points == ("retire_file",))
    runs = json.loads(out.again.stdout)["runs"]
    assert sorted(r["files"] for r in runs) == (
        [files] if len(points) == 1 else sorted([files // 2, files - files // 2])
    ), runs
    assert out.state is not None
    faultkit.assert_same(out.state, reference)
    name = "kill at " + ", ".join(points)
    faultkit.record(name, len(points), fault_input.total_lines, out.state, out.seconds)
