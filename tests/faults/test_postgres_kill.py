"""The embedded PostgreSQL killed with SIGKILL while a `soc-platform run` works (paused at
an exact point by ``SOC_FAULT=pause:POINT``): the run fails with one line, the next
`soc-platform run` restarts the cluster (which recovers from its WAL) and completes the
batch; the final state equals the uninterrupted run's."""

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from soc_platform.hot.embedded import EmbeddedPostgres, free_port
from tests.faults import faultkit
from tests.faults.conftest import make_case

pytestmark = pytest.mark.faults
STEP = {"hot_copy_slice": "load_hot_store", "correlation_rule": "correlate_incidents"}


def wait_for(what: str, check: Callable[[], object], timeout: float, step: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def gone(pid: int) -> bool:
    """The process has ended (a zombie counts as ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2 :].startswith(("Z", "X"))


@pytest.mark.parametrize("point", ["hot_copy_slice", "correlation_rule"])
def test_postgres_killed_mid_run(
    point: str,
    work_dir: Path,
    fault_input: faultkit.Input,
    pycache: Path,
    reference: faultkit.State,
) -> None:
    case = make_case(work_dir, "", fault_input, pycache)
    del case.env["SOC_PG_DSN"]  # the embedded cluster, under the data directory
    case.env["SOC_PG_PORT"] = str(free_port())
    server = EmbeddedPostgres(case.data_dir / "postgres", int(case.env["SOC_PG_PORT"]))
    marker = work_dir / "paused"
    try:
        run = subprocess.Popen(
            [*faultkit.CLI, "run"],
            env={**case.env, "SOC_FAULT": f"pause:{point}", "SOC_FAULT_MARKER": str(marker)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for(f"the run to pause at {point}", lambda: marker.exists() or run.poll(), 240)
        assert run.poll() is None, run.communicate()
        assert marker.read_text().split() == [str(run.pid), point]
        pid = server.state().pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)  # the postmaster; its backends notice and exit
        wait_for("the postmaster to die", lambda: gone(pid), 30)
        marker.unlink()
        _, err = run.communicate(timeout=240)
        # one line: where the run stopped, why, what it had stored; the ledger (in the same
        # server) could not record the failure, and the next run retries all the same
        assert run.returncode == 1, err
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert err.startswith("soc-platform: error: run "), err
        assert f"stopped at {STEP[point]}: " in err, err
        assert "the next run retries these files all the same" in err, err

        again = case.run("--json")
        assert again.returncode == 0, again.stderr
        dsn = server.dsn()
        case.dsn = dsn
        state = case.snapshot()
        faultkit.assert_same(state, reference)
        faultkit.record(
            f"PostgreSQL killed at {point}", 1, fault_input.total_lines, state,
            time.monotonic() - case.started,
        )  # fmt: skip
    finally:
        server.stop()
