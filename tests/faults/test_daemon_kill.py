"""`soc-platform dev` (webserver, dagster-daemon, code server, run workers) killed with
SIGKILL while the sensor's run is paused at an exact point, then started again: the final
state equals the uninterrupted `soc-platform run`'s.

* The daemon alone killed: `dagster dev` shuts the rest down, but the run worker (a child
  of the code server) lives on, paused. A new `soc-platform dev` starts; its sensor must
  leave the files of that live run alone (no second run over them) and its run
  monitoring must not fail it; the run then completes.
* The whole process group killed, run worker included: run monitoring fails the dead run
  and the sensor retries its files.

Slow (a `dagster dev` start is tens of seconds): one case each.
"""

import os
import re
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import dagster as dg
import pytest

from soc_platform.hot.embedded import free_port
from tests.faults import faultkit
from tests.faults.conftest import Case, make_case

pytestmark = pytest.mark.faults
T = TypeVar("T")


def wait_for(what: str, check: Callable[[], T | None], timeout: float, step: float = 0.2) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class Dev:
    """`soc-platform dev` in a process group of its own, its output in a log file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.proc = subprocess.Popen(
            [*faultkit.CLI, "dev", "--port", str(self.port), "--ui-port", str(free_port())],
            env=env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def ready(self) -> bool:
        assert self.proc.poll() is None, self.log.read_text()[-3000:]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/server_info") as resp:
                return bool(resp.status == 200)
        except OSError:
            return False

    def text(self) -> str:
        return re.sub(r"\x1b\[[0-9;]*m", "", self.log.read_text(errors="replace"))

    def group(self) -> list[int]:
        """The live processes of its process group (a code server outlives `dagster dev`)."""
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                text = stat.read_text()
            except OSError:
                continue
            fields = text[text.rfind(")") + 2 :].split()
            if int(fields[2]) == self.proc.pid and fields[0] not in ("Z", "X"):
                found.append(int(stat.parent.name))
        return found

    def daemon_pid(self) -> int:
        for pid in self.group():
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"dagster._daemon" in cmd:
                return pid
        raise AssertionError(f"no dagster-daemon among {self.group()}")

    def stop(self) -> None:
        """SIGTERM to the group, SIGKILL to whatever of it is left."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                pass
        for pid in self.group():
            os.kill(pid, signal.SIGKILL)
        self.proc.wait()


def runs(case: Case) -> list[dg.DagsterRun]:
    home = case.data_dir / "dagster"
    if not (home / "dagster.yaml").is_file():
        return []
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return list(instance.get_runs(dg.RunsFilter(tags={"soc/pipeline": "microbatch"})))


def settled(case: Case) -> bool:
    """Landing and ledger empty, every micro-batch run finished."""
    landing, ledger = faultkit.progress(case.env, case.dsn)
    return not landing and not ledger and all(r.is_finished for r in runs(case))


@pytest.fixture
def dev_case(work_dir: Path, pg_dsn: str, fault_input: faultkit.Input, pycache: Path) -> Case:
    case = make_case(work_dir, pg_dsn, fault_input, pycache)
    case.env.update(
        {
            "SOC_SENSOR_INTERVAL_SECONDS": "5",
            "SOC_LANDING_RETRY_BASE_SECONDS": "1",
            "SOC_LANDING_RETRY_MAX_SECONDS": "5",
            "TMPDIR": str(work_dir),
        }
    )
    return case


@pytest.fixture
def devs() -> "list[Dev]":
    return []


@pytest.fixture(autouse=True)
def _stop_devs(devs: list[Dev]) -> "object":
    yield
    for dev in devs:
        dev.stop()


def paused_dev(case: Case, devs: list[Dev], point: str, log: str) -> tuple[Dev, int]:
    """`soc-platform dev` whose sensor's run pauses at ``point``; returns it and the paused
    run worker's pid."""
    marker = case.data_dir.parent / "paused"
    env = {**case.env, "SOC_FAULT": f"pause:{point}", "SOC_FAULT_MARKER": str(marker)}
    dev = Dev(env, case.data_dir.parent / log)
    devs.append(dev)
    wait_for(f"the sensor's run to pause at {point}", marker.exists, 300)
    pid, where = marker.read_text().split()
    assert where == point and int(pid) in dev.group()
    return dev, int(pid)


@pytest.mark.timeout(900)
def test_daemon_killed_while_its_run_works(
    dev_case: Case, devs: list[Dev], reference: faultkit.State, fault_input: faultkit.Input
) -> None:
    case = dev_case
    first, worker = paused_dev(case, devs, "correlation_rule", "dev1.log")
    (paused_run,) = runs(case)
    os.kill(first.daemon_pid(), signal.SIGKILL)
    first.proc.wait(timeout=120)  # `dagster dev` stops when its daemon dies
    assert "dagster-daemon process shut down unexpectedly" in first.text()
    assert worker in first.group()  # the run worker lives on, paused

    second = Dev(case.env, case.data_dir.parent / "dev2.log")
    devs.append(second)
    wait_for(
        "the new daemon's sensor to look at the ledger",
        lambda: "Sensor microbatch_sensor skipped" in second.text() or len(runs(case)) > 1,
        300,
    )
    (case.data_dir.parent / "paused").unlink()  # the orphan run goes on
    wait_for("landing and ledger to empty, every run to finish", lambda: settled(case), 300, 1)
    assert [(r.run_id, r.status) for r in runs(case)] == [
        (paused_run.run_id, dg.DagsterRunStatus.SUCCESS)
    ]  # no second run over the same files
    state = case.snapshot()
    faultkit.assert_same(state, reference)
    faultkit.record(
        "daemon killed at correlation_rule", 1, fault_input.total_lines, state,
        time.monotonic() - case.started,
    )  # fmt: skip


@pytest.mark.timeout(900)
def test_dev_process_group_killed_while_a_run_works(
    dev_case: Case, devs: list[Dev], reference: faultkit.State, fault_input: faultkit.Input
) -> None:
    case = dev_case
    first, _ = paused_dev(case, devs, "hot_copy_slice", "dev1.log")
    (dead_run,) = runs(case)
    os.killpg(first.proc.pid, signal.SIGKILL)  # webserver, daemon, code server, run worker
    first.proc.wait(timeout=60)
    wait_for("the whole group to die", lambda: not first.group(), 60)
    (case.data_dir.parent / "paused").unlink()

    second = Dev(case.env, case.data_dir.parent / "dev2.log")
    devs.append(second)
    wait_for("landing and ledger to empty, every run to finish", lambda: settled(case), 600, 1)
    statuses = {r.run_id: r.status for r in runs(case)}
    assert statuses.pop(dead_run.run_id) == dg.DagsterRunStatus.FAILURE  # run monitoring
    assert set(statuses.values()) == {dg.DagsterRunStatus.SUCCESS}
    state = case.snapshot()
    faultkit.assert_same(state, reference)
    faultkit.record(
        "dev group killed at hot_copy_slice", 1, fault_input.total_lines, state,
        time.monotonic() - case.started,
    )  # fmt: skip
