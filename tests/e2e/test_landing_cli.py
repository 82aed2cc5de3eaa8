"""`soc-platform run` and `soc-platform landing` with the landing ledger, as a user runs them."""

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from soc_platform.hot.schema import partition_name
from soc_platform.hot.store import HotStore
from tests.helpers import clean_environ, to_jsonl, waf_event

CLI = [sys.executable, "-m", "soc_platform.cli"]
NOW = datetime.now(UTC).replace(microsecond=0)
POISONED = (NOW - timedelta(days=3)).replace(hour=12, minute=0, second=0)


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture
def env(work_dir: Path, pg_dsn: str) -> dict[str, str]:
    keep = clean_environ()
    return {
        **keep,
        "SOC_DATA_DIR": str(work_dir / "data"),
        "SOC_PG_DSN": pg_dsn,
        "SOC_LANDING_RETRY_BASE_SECONDS": "0",
        "SOC_LANDING_RETRY_MAX_SECONDS": "0",
        "PYTHONWARNINGS": "ignore",
    }


def land(env: dict[str, str], name: str, events: list[dict[str, object]]) -> Path:
    path = Path(env["SOC_DATA_DIR"]) / "landing" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_jsonl(events))
    return path


def hot_rows(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(*) FROM waf_events").fetchone()
    return int(row[0]) if row else 0


def test_a_failed_run_keeps_its_files_and_says_so_in_one_line(
    env: dict[str, str], pg_dsn: str
) -> None:
    HotStore(pg_dsn).setup()
    with psycopg.connect(pg_dsn, autocommit=True) as conn:  # the day's partition is taken
        conn.execute(f"CREATE TABLE {partition_name(POISONED.date())} (x int)")
    good = land(env, "a-good.jsonl", [waf_event(NOW - timedelta(seconds=i)) for i in range(5)])
    bad = land(env, "b-bad.jsonl", [waf_event(POISONED)])

    first = cli(env, "run")
    assert first.returncode == 1
    last = first.stderr.strip().splitlines()[-1]  # (the run's own log may come before)
    assert last.startswith("soc-platform: error: run ") and " stopped at load_hot_store: " in last
    assert "no partition of relation" in last and "retries them after a backoff" in last
    assert good.exists() and bad.exists()  # nothing is lost
    failed = json.loads(cli(env, "landing", "list", "--state", "failed", "--json").stdout)
    assert sorted(f["path"] for f in failed) == [str(good), str(bad)]
    assert {f["attempts"] for f in failed} == {1}

    second = cli(env, "run")  # retried whole first (most failures are transient)
    assert second.returncode == 1 and good.exists() and bad.exists()
    third = cli(env, "run", "--json")  # then in halves: the good file goes through
    assert third.returncode == 1
    summary = json.loads(third.stdout)
    # the failed run had appended them to the lake already: the retry completes the rest
    assert (summary["files"], summary["events_parsed"], summary["duplicates"]) == (1, 5, 5)
    assert not good.exists() and bad.exists()
    assert hot_rows(pg_dsn) == 5


def test_a_killed_run_does_not_hold_its_files(env: dict[str, str], pg_dsn: str) -> None:
    """`soc-platform run` killed -9 mid-run: the next `run` sees the claim's process is gone,
    fails its Dagster run (it must not hold the micro-batch slot) and retries the files."""
    import dagster as dg

    files = [land(env, f"f{i}.jsonl", [waf_event(NOW - timedelta(minutes=i))]) for i in range(3)]
    killed = cli({**env, "SOC_FAULT": "kill:hot_copy"}, "run")
    assert killed.returncode == -9
    listed = json.loads(cli(env, "landing", "list", "--json").stdout)
    assert {f["state"] for f in listed} == {"claimed"}  # held by a process that is gone
    home = Path(env["SOC_DATA_DIR"]) / "dagster"
    with dg.DagsterInstance.from_config(str(home)) as instance:
        (run,) = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.STARTED

    again = cli(env, "run", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["files"] == 3
    assert not any(f.exists() for f in files)
    assert hot_rows(pg_dsn) == 3
    with dg.DagsterInstance.from_config(str(home)) as instance:
        dead = instance.get_run_by_id(run.run_id)
        assert dead is not None and dead.status == dg.DagsterRunStatus.FAILURE
    assert cli(env, "run").stdout.startswith("nothing to do")
