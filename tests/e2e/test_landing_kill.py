"""A killed micro-batch must not stall the pipeline: under a real `soc-platform dev`
(webserver, dagster-daemon, code server, run workers in subprocesses).

Two kills Dagster alone does not recover from (its code server fails a run whose worker
dies only while the code server itself lives):

* the whole `soc-platform dev` process group killed with SIGKILL mid-run (a crash, a
  container restart), then started again;
* a `soc-platform run` killed with SIGKILL mid-run (its run executes in that process).

Either run stayed STARTED for ever and held the one micro-batch slot of the run queue, so
every later sensor run stayed QUEUED. Run monitoring (with SocRunLauncher's worker health
check) now fails the dead runs, the queue moves, and the sensor retries their files.
Slow (a few minutes: two `dagster dev` starts, sensor ticks every 15 s here).
"""

import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from soc_platform.flow.instance import EMBEDDED_INSTANCE_YAML
from tests.devproc import CLI, Dev, wait_for
from tests.helpers import clean_environ, to_jsonl, waf_event


@pytest.fixture
def env(work_dir: Path, pg_dsn: str) -> dict[str, str]:
    keep = clean_environ()
    return {
        **keep,
        "SOC_DATA_DIR": str(work_dir / "data"),
        "SOC_PG_DSN": pg_dsn,
        "SOC_LANDING_RETRY_BASE_SECONDS": "1",
        "SOC_LANDING_RETRY_MAX_SECONDS": "5",
        "SOC_SENSOR_INTERVAL_SECONDS": "15",
        "TMPDIR": str(work_dir),
        "PYTHONWARNINGS": "ignore",
    }


@pytest.fixture
def devs() -> Iterator[list[Dev]]:
    started: list[Dev] = []
    yield started
    for dev in started:
        dev.kill(signal.SIGTERM)


def microbatch_runs(home: Path) -> list[dg.DagsterRun]:
    if not (home / "dagster.yaml").is_file():
        return []  # the first command has not written the instance yet
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return list(instance.get_runs(dg.RunsFilter(tags={"soc/pipeline": "microbatch"})))


def times(home: Path, run_id: str) -> tuple[float | None, float | None]:
    """When a run started and ended (epoch seconds, from run storage)."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        record = instance.get_run_record_by_id(run_id)
    return (record.start_time, record.end_time) if record else (None, None)


def daemon_started(log: Path) -> float:
    """When `dagster dev`'s daemon logged its first line (epoch seconds)."""
    for raw in log.read_text(errors="replace").splitlines():
        text = re.sub(r"\x1b\[[0-9;]*m", "", raw)
        if "dagster.daemon" in text:
            return datetime.strptime(text[:25], "%Y-%m-%d %H:%M:%S %z").timestamp()
    raise AssertionError(f"no daemon line in {log}")


def status(home: Path, run_id: str) -> dg.DagsterRunStatus | None:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        run = instance.get_run_by_id(run_id)
    return run.status if run else None


def hot_rows(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(*) FROM waf_events").fetchone()
    return int(row[0]) if row else 0


def landing_files(landing: Path) -> list[Path]:
    return [p for p in landing.rglob("*.jsonl*") if p.is_file()]


def generate(env: dict[str, str], out: Path, events: int, seed: int) -> int:
    subprocess.run(
        [*CLI, "generate", "--out", str(out), "--events", str(events), "--minutes", "30",
         "--seed", str(seed), "--truth", str(out.parent / f"truth-{seed}.json")],
        env=env, check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return events


def started_run(home: Path, exclude: set[str], trigger: str | None = None) -> dg.DagsterRun | None:
    return next(
        (
            r
            for r in microbatch_runs(home)
            if r.run_id not in exclude
            and r.status.value == "STARTED"
            and (trigger is None or r.tags.get("soc/trigger") == trigger)
        ),
        None,
    )


@pytest.mark.timeout(1200)
def test_killed_runs_are_failed_and_the_queue_moves(
    env: dict[str, str],
    work_dir: Path,
    pg_dsn: str,
    devs: list[Dev],
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = Path(env["SOC_DATA_DIR"])
    landing, home = data / "landing", data / "dagster"
    figures: dict[str, float] = {}
    expected = generate(env, landing / "c", 40_000, seed=4)
    staging = work_dir / "staging"
    expected += generate(env, staging, 60_000, seed=3)

    # -- 1. a `soc-platform run` killed -9 mid-run (no daemon running) ---------------------
    home.mkdir(parents=True)  # storage created before two processes race to create it
    (home / "dagster.yaml").write_text(EMBEDDED_INSTANCE_YAML)
    assert microbatch_runs(home) == []
    cli = subprocess.Popen([*CLI, "run"], env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)  # fmt: skip
    run_c = wait_for("the CLI's run to start", lambda: started_run(home, set(), "cli"), 180, 0.1)
    cli.send_signal(signal.SIGKILL)
    cli.wait()
    assert status(home, run_c.run_id) == dg.DagsterRunStatus.STARTED  # stuck, holding the slot
    shutil.move(staging, landing / "a")

    devs.append(Dev(env, work_dir / "dev1.log"))
    wait_for(
        "run monitoring to fail the killed CLI run",
        lambda: status(home, run_c.run_id) == dg.DagsterRunStatus.FAILURE,
        300,
        step=0.5,
    )
    run_a = wait_for(
        "the sensor's run to start", lambda: started_run(home, {run_c.run_id}), 300, 0.5
    )
    daemon = daemon_started(devs[-1].log)
    failed_at = times(home, run_c.run_id)[1]
    started_at = times(home, run_a.run_id)[0]
    assert failed_at and started_at
    figures["1. killed CLI run FAILURE after the daemon started (s)"] = failed_at - daemon
    figures["1. next run started after that FAILURE (s)"] = started_at - failed_at

    # -- 2. the whole `soc-platform dev` killed -9 while the sensor's run works ------------
    devs[-1].kill(signal.SIGKILL)  # webserver, daemon, code server and the run worker
    assert status(home, run_a.run_id) == dg.DagsterRunStatus.STARTED  # nobody saw it die
    (landing / "b").mkdir()
    (landing / "b" / "late.jsonl").write_text(to_jsonl([waf_event(datetime.now(UTC))]))
    expected += 1

    settled = {r.run_id for r in microbatch_runs(home) if r.status.value != "QUEUED"}
    devs.append(Dev(env, work_dir / "dev2.log"))
    wait_for(
        "run monitoring to fail the dead sensor run",
        lambda: status(home, run_a.run_id) == dg.DagsterRunStatus.FAILURE,
        300,
        step=0.5,
    )
    moved = wait_for(
        "a micro-batch run to start (one queued before the kill, or a new one)",
        lambda: next(
            (
                r
                for r in microbatch_runs(home)
                if r.run_id not in settled and r.status.value in ("STARTED", "SUCCESS")
            ),
            None,
        ),
        300,
        step=0.5,
    )
    daemon = daemon_started(devs[-1].log)
    failed_at = times(home, run_a.run_id)[1]
    started_at = times(home, moved.run_id)[0]
    assert failed_at and started_at
    figures["2. dead sensor run FAILURE after the daemon restarted (s)"] = failed_at - daemon
    figures["2. next run started after that FAILURE (s)"] = started_at - failed_at
    # the dead runs' files are retried by the sensor (no Dagster retry): nothing is lost
    wait_for("every file to be ingested", lambda: hot_rows(pg_dsn) == expected, 600, step=2)
    figures["2. every file ingested after the daemon restarted (s)"] = time.time() - daemon
    wait_for("the landing area to empty", lambda: not landing_files(landing), 120, step=2)
    with capsys.disabled():
        sys.stdout.write("\n" + "\n".join(f"  {k}: {v:.1f}" for k, v in figures.items()) + "\n")
