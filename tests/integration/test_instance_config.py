"""The Dagster instance configurations: the repository's production dagster.yaml against a
real PostgreSQL, the embedded one (and its upgrade), and the run worker health check."""

import shutil
import uuid
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from psycopg import sql

from soc_platform.hot.embedded import DB_USER, EmbeddedPostgres

REPO = Path(__file__).resolve().parents[2]


def test_production_dagster_yaml_uses_postgres_storage(
    pg_cluster: EmbeddedPostgres, work_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = f"dagster_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_cluster.dsn("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
    home = work_dir / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_PG_USERNAME", DB_USER)
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", pg_cluster.password_file.read_text().strip())
    monkeypatch.setenv("DAGSTER_PG_HOST", "127.0.0.1")
    monkeypatch.setenv("DAGSTER_PG_PORT", str(pg_cluster.port))
    monkeypatch.setenv("DAGSTER_PG_DB", db)
    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"

        @dg.op
        def ping() -> int:
            return 1

        @dg.job
        def smoke() -> None:
            ping()

        assert smoke.execute_in_process(instance=instance).success
        assert len(instance.get_runs()) == 1
        assert type(instance.run_launcher).__name__ == "SocRunLauncher"
        assert instance.run_monitoring_enabled
        assert instance.run_launcher.supports_check_run_worker_health


#: What soc-platform wrote into $DAGSTER_HOME/dagster.yaml before run monitoring.
OLD_EMBEDDED_YAML = """\
# Written by soc-platform for the embedded defaults: SQLite storage in this folder.
# One micro-batch at a time (the lake's append is check-then-write), others queue.
run_queue:
  max_concurrent_runs: 4
  tag_concurrency_limits:
    - key: soc/pipeline
      value: microbatch
      limit: 1
# A failed micro-batch is retried (every step is idempotent); the sensor does not
# launch the same files twice.
run_retries:
  enabled: true
  max_retries: 2
telemetry:
  enabled: false
"""


def test_existing_embedded_homes_get_run_monitoring(
    work_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from soc_platform.flow.instance import EMBEDDED_INSTANCE_YAML, prepare_dagster_home
    from soc_platform.settings import load_settings

    settings = load_settings({"SOC_DATA_DIR": str(work_dir / "data")})
    home = settings.dagster_home
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text(OLD_EMBEDDED_YAML)  # a data dir of an older version
    monkeypatch.setenv("DAGSTER_HOME", "unused")
    assert prepare_dagster_home(settings) == home
    assert (home / "dagster.yaml").read_text() == EMBEDDED_INSTANCE_YAML
    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_launcher).__name__ == "SocRunLauncher"
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_max_resume_run_attempts == 0
        assert instance.run_retries_enabled  # other jobs; micro-batches opt out by tag

    mine = "# my own instance\ntelemetry:\n  enabled: false\n"
    (home / "dagster.yaml").write_text(mine)  # no header: the user's file is left alone
    prepare_dagster_home(settings)
    assert (home / "dagster.yaml").read_text() == mine


SLOW_RUN = """
import os, time
import dagster as dg
from soc_platform.flow.instance import HOST_TAG, PID_STARTED_TAG, PID_TAG
from soc_platform.sources.processes import host_name, own_start

@dg.op
def slow() -> None:
    time.sleep(300)

@dg.job
def work() -> None:
    slow()

with dg.DagsterInstance.get() as instance:  # tagged as `soc-platform run` tags its runs
    tags = {HOST_TAG: host_name(), PID_TAG: str(os.getpid()), PID_STARTED_TAG: f"{own_start():.2f}"}
    work.execute_in_process(instance=instance, tags=tags)
"""


def test_the_worker_health_check_sees_a_killed_process(work_dir: Path) -> None:
    """A run executing in a process that is then killed -9 stays STARTED; the launcher's
    health check reports its worker FAILED (run monitoring then fails it), and
    `reap_dead_runs` fails it when no daemon runs."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from dagster._core.launcher import WorkerStatus

    from soc_platform.flow.instance import prepare_dagster_home, reap_dead_runs
    from soc_platform.settings import load_settings

    home = prepare_dagster_home(load_settings({"SOC_DATA_DIR": str(work_dir)}))
    env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONWARNINGS": "ignore"}
    child = subprocess.Popen([sys.executable, "-c", SLOW_RUN], env=env, cwd=REPO)
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            deadline = time.monotonic() + 120
            while not instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
                assert time.monotonic() < deadline and child.poll() is None
                time.sleep(0.2)
            (run,) = instance.get_runs()
            launcher = instance.run_launcher
            assert launcher.check_run_worker_health(run).status is WorkerStatus.RUNNING
            assert reap_dead_runs(instance) == []
            child.send_signal(signal.SIGKILL)
            child.wait()
            run = instance.get_run_by_id(run.run_id)
            assert run is not None and run.status == dg.DagsterRunStatus.STARTED  # stuck
            health = launcher.check_run_worker_health(run)
            assert health.status is WorkerStatus.FAILED and "gone" in (health.msg or "")
            assert reap_dead_runs(instance) == [run.run_id]
            after = instance.get_run_by_id(run.run_id)
            assert after is not None and after.status == dg.DagsterRunStatus.FAILURE
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
