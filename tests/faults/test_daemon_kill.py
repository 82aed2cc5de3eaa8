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
import signal
import time
from pathlib import Path

import dagster as dg
import pytest

from tests.devproc import Dev, wait_for
from tests.faults import faultkit
from tests.faults.conftest import Case, make_case

pytestmark = pytest.mark.faults


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
