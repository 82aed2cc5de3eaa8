"""The micro-batch sensor and the landing ledger, run for real: sensor ticks on a real
instance, the runs they request executed as Dagster runs, a real hot store, real files."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from soc_platform.definitions import build_definitions
from soc_platform.hot.schema import partition_name
from soc_platform.hot.store import HotStore
from soc_platform.settings import Settings, load_settings
from soc_platform.sources.landing import list_landing_files
from tests.helpers import sqli_burst, to_jsonl, waf_event

NOW = datetime.now(UTC).replace(microsecond=0)
#: A day whose hot partition cannot take rows (a table of that name is in the way): a real
#: hot-store failure for every run holding a file with events of that day.
POISONED = (NOW - timedelta(days=3)).replace(hour=12, minute=0, second=0)


@pytest.fixture
def settings(work_dir: Path, pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("SOC_DATA_DIR", str(work_dir))
    monkeypatch.setenv("SOC_PG_DSN", pg_dsn)
    monkeypatch.setenv("SOC_PARTITIONS_START", (NOW - timedelta(days=30)).date().isoformat())
    monkeypatch.setenv("SOC_LANDING_RETRY_BASE_SECONDS", "0")  # no waiting in a test
    monkeypatch.setenv("SOC_LANDING_RETRY_MAX_SECONDS", "0")
    return load_settings()


@pytest.fixture
def defs(settings: Settings) -> dg.Definitions:
    return build_definitions(settings)


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst


def land(settings: Settings, name: str, events: list[dict[str, object]]) -> str:
    path = settings.landing_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(to_jsonl(events))
    tmp.rename(path)
    return str(path.resolve())


def tick(
    defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None
) -> tuple[list[dg.RunRequest], str | None, str | None]:
    sensor = defs.resolve_sensor_def("microbatch_sensor")
    ctx = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={"landing": defs.resources["landing"], "hot": defs.resources["hot"]},
    )
    data = sensor.evaluate_tick(ctx)
    return list(data.run_requests or []), data.cursor, data.skip_message


def execute(
    defs: dg.Definitions, instance: dg.DagsterInstance, request: dg.RunRequest
) -> dg.ExecuteInProcessResult:
    """Run a sensor's request as the daemon would (its config and tags)."""
    job = defs.resolve_job_def(request.job_name or "microbatch_job")
    return job.execute_in_process(
        run_config=request.run_config,
        instance=instance,
        tags=dict(request.tags),
        raise_on_error=False,
    )


def scalar(dsn: str, query: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def test_good_files_go_through_and_a_failing_file_is_quarantined(
    defs: dg.Definitions, instance: dg.DagsterInstance, settings: Settings, pg_dsn: str
) -> None:
    """A good file, an attack campaign and a file that keeps failing land together: the
    good files are ingested, the bad one is isolated, then quarantined (moved aside, named
    by the failing check and by `soc-platform landing list`); nothing is lost."""
    HotStore(pg_dsn).setup()
    with psycopg.connect(pg_dsn, autocommit=True) as conn:  # the day's partition is taken
        conn.execute(f"CREATE TABLE {partition_name(POISONED.date())} (x int)")
    burst_start = (NOW - timedelta(minutes=20)).replace(second=5)
    good = land(
        settings, "a-good.jsonl", [waf_event(NOW - timedelta(seconds=i)) for i in range(20)]
    )
    campaign = land(settings, "b-campaign.jsonl", sqli_burst(burst_start, "192.168.77.7", n=12))
    poisoned = [waf_event(POISONED + timedelta(seconds=i)) for i in range(5)]
    bad = land(settings, "c-bad/poisoned.jsonl", poisoned)
    expected = 20 + 12

    cursor = None
    outcomes: list[bool] = []
    check_runs: list[dg.ExecuteInProcessResult] = []
    for i in range(12):
        requests, cursor, skip = tick(defs, instance, cursor)
        for request in requests:
            result = execute(defs, instance, request)
            if request.job_name == "landing_check_job":
                check_runs.append(result)
            else:
                outcomes.append(result.success)
        if check_runs:
            break
        # WAFs keep shipping: other runs succeed while the bad file is retried
        land(settings, f"live-{i:02d}.jsonl", [waf_event(NOW + timedelta(minutes=1, seconds=i))])
        expected += 1
    assert check_runs, f"never quarantined; runs: {outcomes}, last skip: {skip}"
    assert outcomes[0] is False  # the first batch held all three files
    assert True in outcomes

    # the good files and the campaign are ingested (and detected); the bad day is not
    assert scalar(pg_dsn, "SELECT count(*) FROM waf_events") == expected
    assert scalar(pg_dsn, "SELECT count(*) FROM incidents WHERE client_ip = '192.168.77.7'") == 1
    # the landing area is empty: processed files deleted, the bad one moved aside
    assert list_landing_files(settings.landing_dir) == []
    moved = settings.quarantine_dir / "c-bad" / "poisoned.jsonl"
    assert moved.is_file() and not Path(bad).exists()
    assert not Path(good).exists() and not Path(campaign).exists()

    # the asset check fails, naming the file and why
    (check,) = [
        e.asset_check_evaluation_data
        for e in check_runs[0].all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    assert check.check_name == "landing_quarantine_empty" and not check.passed
    assert bad in (check.description or "") and "no partition" in (check.description or "")

    # the sensor says so when idle, with a small cursor
    requests, cursor, skip = tick(defs, instance, cursor)
    assert (
        requests == []
        and skip == "no new landing files (1 quarantined (soc-platform landing list))"
    )
    assert cursor is not None and len(cursor) < 80

    # and `soc-platform landing list` shows it
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOC_", "DAGSTER_"))}
    env.update(SOC_DATA_DIR=str(settings.data_dir), SOC_PG_DSN=pg_dsn, PYTHONWARNINGS="ignore")
    listed = subprocess.run(
        [sys.executable, "-m", "soc_platform.cli", "landing", "list", "--state", "quarantined",
         "--json"],
        env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    (row,) = json.loads(listed.stdout)
    assert row["path"] == bad and row["quarantined_to"] == str(moved)
    assert row["alone_failures"] >= 3

    # released after the cause is fixed, it goes through like any file
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"DROP TABLE {partition_name(POISONED.date())}")
    subprocess.run(
        [sys.executable, "-m", "soc_platform.cli", "landing", "release", "--all"],
        env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert Path(bad).is_file()
    requests, cursor, _ = tick(defs, instance, cursor)
    assert [execute(defs, instance, r).success for r in requests] == [True]
    assert scalar(pg_dsn, "SELECT count(*) FROM waf_events") == expected + 5
    assert list_landing_files(settings.landing_dir) == []


def test_two_thousand_files_through_the_sensor_and_the_cli(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    settings: Settings,
    pg_dsn: str,
) -> None:
    """Issue 15's done-when: 2,000 small files through the sensor and `soc-platform run`
    sharing one ledger. Neither reads a file the other holds, the landing area is empty
    afterwards, the cursor stays small, and a second `run` reads nothing."""

    def land_many(prefix: str, n: int, offset_s: int) -> None:
        for i in range(n):  # two distinct events per file (an event's id is its line's hash)
            t = NOW - timedelta(minutes=40) + timedelta(seconds=offset_s + i)
            pair = [waf_event(t, f"198.51.100.{i % 250}"), waf_event(t, f"203.0.113.{i % 250}")]
            land(settings, f"{prefix}/{i:04d}.jsonl", pair)

    land_many("sensor", 1000, 0)
    requests, cursor, _ = tick(defs, instance, None)
    assert [
        len(r.run_config["ops"]["ingest_landing_files"]["config"]["files"]) for r in requests
    ] == [500, 500]
    cursor_sizes = [len(cursor or "")]

    land_many("cli", 1000, 1000)  # the CLI takes these, never the 1000 the sensor's runs hold
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOC_", "DAGSTER_"))}
    env.update(SOC_DATA_DIR=str(settings.data_dir), SOC_PG_DSN=pg_dsn, PYTHONWARNINGS="ignore",
               SOC_PARTITIONS_START=settings.partitions_start.isoformat())  # fmt: skip
    cli = [sys.executable, "-m", "soc_platform.cli", "run", "--json"]
    out = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=600, check=True)
    summary = json.loads(out.stdout)
    assert (summary["files"], summary["events_parsed"], len(summary["runs"])) == (1000, 2000, 2)

    for request in requests:  # the sensor's runs, launched before the CLI ran
        assert execute(defs, instance, request).success
    for _ in range(3):  # later ticks find nothing, whoever processed the files
        requests, cursor, skip = tick(defs, instance, cursor)
        cursor_sizes.append(len(cursor or ""))
        assert requests == [] and skip == "landing directory is empty"

    assert list_landing_files(settings.landing_dir) == []
    assert scalar(pg_dsn, "SELECT count(*) FROM landing_files") == 0
    assert scalar(pg_dsn, "SELECT count(*) FROM waf_events") == 4000
    assert max(cursor_sizes) < 80

    again = subprocess.run(
        cli[:-1], env=env, capture_output=True, text=True, timeout=300, check=True
    )
    assert again.stdout.startswith("nothing to do")
