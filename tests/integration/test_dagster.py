"""Dagster wiring, the micro-batch job, the sensor and the day-partitioned assets, run for real."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from soc_platform.definitions import build_definitions
from soc_platform.flow.keys import REBUILD_KEYS
from soc_platform.settings import Settings, load_settings
from tests.helpers import sqli_burst, to_jsonl, waf_event

NOW = datetime.now(UTC).replace(microsecond=0)
YESTERDAY = NOW - timedelta(days=1)


@pytest.fixture
def settings(work_dir: Path, pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("SOC_DATA_DIR", str(work_dir))
    monkeypatch.setenv("SOC_PG_DSN", pg_dsn)  # resolved by the resource's EnvVar at run time
    monkeypatch.setenv("SOC_PARTITIONS_START", (NOW - timedelta(days=30)).date().isoformat())
    return load_settings()


@pytest.fixture
def defs(settings: Settings) -> dg.Definitions:
    return build_definitions(settings)


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst


def land(settings: Settings, name: str, events: list[dict[str, object]], extra: str = "") -> str:
    settings.landing_dir.mkdir(parents=True, exist_ok=True)
    path = settings.landing_dir / name
    path.write_text(to_jsonl(events) + extra)
    return str(path)


def run_microbatch(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    files: list[str],
    raise_on_error: bool = True,
) -> dg.ExecuteInProcessResult:
    job = defs.resolve_job_def("microbatch_job")
    return job.execute_in_process(
        run_config={"ops": {"ingest_landing_files": {"config": {"files": files}}}},
        instance=instance,
        raise_on_error=raise_on_error,
    )


def test_definitions_wiring(defs: dg.Definitions) -> None:
    specs = {s.key.to_user_string(): s for s in defs.resolve_all_asset_specs()}
    assert {k: s.group_name for k, s in specs.items()} == {
        "lake/raw_waf_events": "lake",
        "lake/dead_letter": "lake",
        "hot/waf_events": "hot",
        "hot/waf_events_1m": "hot",
        "hot/waf_events_1h": "hot",
        "hot/waf_events_daily_summary": "hot",
        "detection/incidents": "detection",
        "detection/retro_hunt": "detection",
        "search/incident_index": "search",
    }
    assert specs["hot/waf_events"].partitions_def is not None
    assert specs["detection/retro_hunt"].partitions_def is not None
    checks = {
        (k.asset_key.to_user_string(), k.name): k
        for k in defs.resolve_asset_graph().asset_check_keys
    }
    assert set(checks) == {
        ("hot/waf_events", "lake_hot_counts_match"),
        ("hot/waf_events", "hot_freshness"),
        ("hot/waf_events_daily_summary", "aggregate_totals_match"),
        ("detection/incidents", "rule_set_loads"),
        ("detection/incidents", "noisy_rules"),
        ("lake/raw_waf_events", "landing_quarantine_empty"),
        ("lake/raw_waf_events", "lake_day_files"),
        ("search/incident_index", "alerts_delivered"),
        ("search/incident_index", "search_backlog_empty"),
    }
    for name in (
        "hot_maintenance_schedule",
        "hot_freshness_schedule",
        "lake_maintenance_schedule",
        "lake_day_files_schedule",
    ):
        schedule = defs.resolve_schedule_def(name)
        assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert defs.resolve_schedule_def("hot_maintenance_schedule").cron_schedule == "15 3 * * *"
    sensor = defs.resolve_sensor_def("microbatch_sensor")
    assert sensor.minimum_interval_seconds == 60
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    job = defs.resolve_job_def("microbatch_job")
    assert job.executor_def.name == "in_process"
    assert job.tags["dagster/max_retries"] == "0"  # the sensor owns retries
    assert {j.name for j in sensor.jobs} == {"microbatch_job", "landing_check_job"}
    maintenance = defs.resolve_job_def("hot_maintenance_job")
    assert {n.name for n in maintenance.nodes} == {"maintain_hot_store", "prune_landing_archive"}


def test_microbatch_run_reports_partitions_and_metadata(
    defs: dg.Definitions, instance: dg.DagsterInstance, settings: Settings, pg_dsn: str
) -> None:
    burst_start = NOW.replace(second=5) - timedelta(minutes=NOW.minute % 5)
    today_file = land(
        settings, "today.jsonl", sqli_burst(burst_start, "192.168.44.5", n=11, spacing_s=2)
    )
    late_file = land(settings, "late.jsonl", [waf_event(YESTERDAY)], extra="not json\n")
    result = run_microbatch(defs, instance, [today_file, late_file])
    assert result.success

    raw = dg.AssetKey(["lake", "raw_waf_events"])
    parts = instance.get_materialized_partitions(raw)
    assert parts == {NOW.date().isoformat(), YESTERDAY.date().isoformat()}
    for key in (
        ["hot", "waf_events"],
        ["hot", "waf_events_daily_summary"],
        ["detection", "incidents"],
        ["search", "incident_index"],
    ):
        assert instance.get_materialized_partitions(dg.AssetKey(key)) == parts, key

    ingest = result.output_for_node("ingest_landing_files")
    assert (ingest.appended, ingest.dead_letters) == (12, 1)
    assert ingest.dead_letter_reasons == {"invalid_json": 1}
    dead_mat = instance.get_latest_materialization_event(dg.AssetKey(["lake", "dead_letter"]))
    assert dead_mat is not None
    meta = dead_mat.asset_materialization.metadata  # type: ignore[union-attr]
    assert meta["reason/invalid_json"].value == 1

    incidents = result.output_for_node("correlate_incidents").incidents
    assert [(i.client_ip, i.event_count) for i in incidents] == [("192.168.44.5", 11)]
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM waf_events").fetchone() == (12,)
        # the embedded search's index is the incidents table: nothing waits after the run
        assert conn.execute("SELECT count(*) FROM search_backlog").fetchone() == (0,)
    (backlog_check,) = [
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and e.asset_check_evaluation_data.check_name == "search_backlog_empty"
    ]
    assert backlog_check.passed

    again = run_microbatch(defs, instance, [today_file, late_file])
    assert again.output_for_node("ingest_landing_files").appended == 0
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM waf_events").fetchone() == (12,)
        assert conn.execute("SELECT count(*) FROM incidents").fetchone() == (1,)


def test_backfill_rebuilds_a_day_from_the_lake_alone(
    defs: dg.Definitions, instance: dg.DagsterInstance, settings: Settings, pg_dsn: str
) -> None:
    start = YESTERDAY.replace(hour=10, minute=0, second=1)
    path = land(
        settings,
        "day.jsonl",
        [*sqli_burst(start, "192.168.9.9", n=10, spacing_s=3), waf_event(start)],
    )
    assert run_microbatch(defs, instance, [path]).success
    Path(path).unlink()  # landing files may be long gone
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE waf_events; TRUNCATE incidents")

    day = YESTERDAY.date().isoformat()
    selection = REBUILD_KEYS
    job = defs.resolve_implicit_global_asset_job_def()
    for _ in range(2):  # twice: identical result
        result = job.execute_in_process(
            instance=instance, partition_key=day, asset_selection=selection
        )
        assert result.success
        with psycopg.connect(pg_dsn) as conn:
            assert conn.execute("SELECT count(*) FROM waf_events").fetchone() == (11,)
            assert conn.execute("SELECT client_ip, event_count FROM incidents").fetchall() == [
                ("192.168.9.9", 10)
            ]
            assert conn.execute(
                "SELECT sum(event_count) FROM waf_events_daily_summary"
            ).fetchone() == (11,)


def test_a_backfill_run_keeps_the_status_an_analyst_set(
    defs: dg.Definitions, instance: dg.DagsterInstance, settings: Settings, pg_dsn: str
) -> None:
    """The issue's bug through the backfill job itself: a status set by hand was reset to
    open by the next backfill of that day."""
    from soc_platform.incidents.lifecycle import Change, apply_change

    start = YESTERDAY.replace(hour=11, minute=0, second=1)
    path = land(settings, "day.jsonl", sqli_burst(start, "192.168.9.10", n=12, spacing_s=3))
    assert run_microbatch(defs, instance, [path]).success
    with psycopg.connect(pg_dsn) as conn:
        [(iid,)] = conn.execute("SELECT id FROM incidents").fetchall()
        apply_change(conn, iid, Change(status="in_progress", assignee="alice"), actor="alice")
    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(
        instance=instance, partition_key=YESTERDAY.date().isoformat(), asset_selection=REBUILD_KEYS
    )
    assert result.success
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT id, status, assignee FROM incidents").fetchall() == [
            (iid, "in_progress", "alice")
        ]


def test_dagster_cli_validates_the_workspace(work_dir: Path) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOC_", "DAGSTER_"))}
    env["SOC_DATA_DIR"] = str(work_dir)
    # without DAGSTER_HOME, dagster would read the production dagster.yaml in the repo root
    (work_dir / "dagster_home").mkdir()
    env["DAGSTER_HOME"] = str(work_dir / "dagster_home")
    dagster = Path(sys.executable).parent / "dagster"
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Validation successful" in proc.stderr + proc.stdout
    assert not (work_dir / "postgres").exists()  # loading definitions starts no server


def test_a_run_after_a_crash_between_lake_and_hot_completes_the_hot_load(
    defs: dg.Definitions, instance: dg.DagsterInstance, settings: Settings, pg_dsn: str
) -> None:
    from soc_platform.flow import steps
    from soc_platform.lake.iceberg import Lake, LakeConfig

    path = land(settings, "crash.jsonl", sqli_burst(NOW.replace(second=1), "192.168.2.2", n=10))
    lake = Lake(LakeConfig.from_settings(settings))
    assert steps.ingest_files(lake, [path]).appended == 10  # the crashed run got this far
    result = run_microbatch(defs, instance, [path])  # the retry
    assert result.output_for_node("ingest_landing_files").appended == 0
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM waf_events").fetchone() == (10,)
        assert conn.execute("SELECT event_count FROM incidents").fetchall() == [(10,)]


def test_lake_hot_count_mismatch_blocks_correlation_in_the_microbatch(
    defs: dg.Definitions, instance: dg.DagsterInstance, settings: Settings, pg_dsn: str
) -> None:
    start = YESTERDAY.replace(hour=9, minute=0, second=0)
    # the micro-batch's check counts the second batch's time span (first to last event):
    # the lost row lies inside it
    lost = start + timedelta(minutes=1, seconds=2)
    first = land(settings, "a.jsonl", [waf_event(lost + timedelta(seconds=i)) for i in range(3)])
    assert run_microbatch(defs, instance, [first]).success
    with psycopg.connect(pg_dsn, autocommit=True) as conn:  # the hot store loses a row
        conn.execute("DELETE FROM waf_events WHERE event_time = %s", (lost,))
    second = land(settings, "b.jsonl", sqli_burst(start + timedelta(minutes=1), "192.168.4.4"))
    result = run_microbatch(defs, instance, [second], raise_on_error=False)
    assert not result.success
    steps = {e.step_key: e.event_type_value for e in result.all_events if e.is_step_event}
    assert steps["load_hot_store"] == "STEP_FAILURE"
    assert "correlate_incidents" not in steps  # blocked: never started
    evaluation = next(
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    )
    assert evaluation.check_name == "lake_hot_counts_match" and not evaluation.passed
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM incidents").fetchone() == (0,)


def test_maintenance_and_freshness_jobs_run(
    defs: dg.Definitions, instance: dg.DagsterInstance, settings: Settings, pg_dsn: str
) -> None:
    path = land(settings, "old.jsonl", [waf_event(YESTERDAY.replace(hour=1))])
    assert run_microbatch(defs, instance, [path]).success
    fresh = defs.resolve_job_def("hot_freshness_job").execute_in_process(instance=instance)
    assert fresh.success  # a warning, not a failed run
    evaluations = {
        e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data
        for e in fresh.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    assert set(evaluations) == {"hot_freshness", "noisy_rules"}
    evaluation = evaluations["hot_freshness"]
    assert not evaluation.passed
    assert "min old" in (evaluation.description or "")
    assert evaluations["noisy_rules"].passed  # no incident closed yet

    maintenance = defs.resolve_job_def("hot_maintenance_job").execute_in_process(instance=instance)
    assert maintenance.success
    with psycopg.connect(pg_dsn) as conn:
        tomorrow = (NOW + timedelta(days=1)).strftime("waf_events_p%Y%m%d")
        assert conn.execute("SELECT to_regclass(%s) IS NOT NULL", (tomorrow,)).fetchone() == (True,)


def test_retro_hunt_is_a_backfill_with_a_shadow_diff(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    settings: Settings,
    pg_dsn: str,
    tmp_path: Path,
) -> None:
    """A candidate rule (the SQLi burst at 5 events) over yesterday, as a single-run
    backfill of detection/retro_hunt: its metadata holds the diff, live incidents stay."""
    from soc_platform.correlation.detection import builtin_rules_dir

    start = YESTERDAY.replace(hour=9, minute=0, second=1)
    path = land(
        settings,
        "hunt.jsonl",
        [
            *sqli_burst(start, "192.168.9.1", n=12, spacing_s=3),
            *sqli_burst(start + timedelta(hours=1), "192.168.9.2", n=6, spacing_s=3),
        ],
    )
    assert run_microbatch(defs, instance, [path]).success
    with psycopg.connect(pg_dsn) as conn:
        live = conn.execute("SELECT id, client_ip FROM incidents WHERE rule = 'waf-sqli-burst'")
        assert [r[1] for r in live] == ["192.168.9.1"]

    candidate = tmp_path / "candidate"
    candidate.mkdir()
    text = (builtin_rules_dir() / "waf" / "waf-sqli-burst.yml").read_text()
    (candidate / "sqli.yml").write_text(text.replace("gte: 10", "gte: 5"))
    day = YESTERDAY.date().isoformat()
    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(
        instance=instance,
        asset_selection=[dg.AssetKey(["detection", "retro_hunt"])],
        run_config={"ops": {"detection__retro_hunt": {"config": {"rules_dir": str(candidate)}}}},
        tags={
            "dagster/asset_partition_range_start": (YESTERDAY - timedelta(days=1))
            .date()
            .isoformat(),
            "dagster/asset_partition_range_end": day,
        },
    )
    assert result.success
    mats = result.get_asset_materialization_events()
    assert len(mats) == 2  # one per day partition of the range, one run
    meta = {k: getattr(v, "value", v) for k, v in mats[-1].materialization.metadata.items()}
    assert (meta["added"], meta["removed"], meta["changed"]) == (1, 0, 0)
    assert meta["diff"][0]["group_key"] == "192.168.9.2"
    assert meta["days"] == 2
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute(
            "SELECT count(*) FROM incidents WHERE rule = 'waf-sqli-burst'"
        ).fetchone() == (1,)


def test_rule_set_problems_fail_the_rule_check(
    work_dir: Path, pg_dsn: str, monkeypatch: pytest.MonkeyPatch, instance: dg.DagsterInstance
) -> None:
    """A rule set with a broken rule: the good rules still run, the check names the bad one."""
    from soc_platform.correlation.detection import builtin_rules_dir

    rules = work_dir / "rules"
    rules.mkdir()
    (rules / "sqli.yml").write_text(
        (builtin_rules_dir() / "waf" / "waf-sqli-burst.yml").read_text()
    )
    (rules / "referer.yml").write_text(
        "title: Bad referer\nname: bad-referer\nlogsource: {category: webserver}\n"
        "detection:\n  sel:\n    cs-referer|contains: evil\n  condition: sel\n"
    )
    monkeypatch.setenv("SOC_DATA_DIR", str(work_dir))
    monkeypatch.setenv("SOC_PG_DSN", pg_dsn)
    monkeypatch.setenv("SOC_PARTITIONS_START", (NOW - timedelta(days=30)).date().isoformat())
    monkeypatch.setenv("SOC_RULES_DIR", str(rules))
    defs = build_definitions(load_settings())
    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(
        instance=instance,
        partition_key=YESTERDAY.date().isoformat(),
        asset_selection=[dg.AssetKey(["detection", "incidents"])],
    )
    assert result.success
    checks = {
        e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    assert set(checks) == {"rule_set_loads", "noisy_rules"}  # the asset's checks run with it
    check = checks["rule_set_loads"]
    assert not check.passed
    assert "bad-referer" in (check.description or "")
    assert "Referer" in (check.description or "")
    [mat] = result.get_asset_materialization_events()
    assert mat.materialization.metadata["rules"].value == 1


def test_lake_maintenance_job_compacts_and_the_day_files_check_follows(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    day = YESTERDAY.replace(hour=2, minute=0, second=0)
    for i in range(3):  # three micro-batches of a closed day: three files
        path = land(settings, f"b{i}.jsonl", [waf_event(day + timedelta(minutes=i))])
        assert run_microbatch(defs, instance, [path]).success
    monkeypatch.setenv("SOC_LAKE_MAX_FILES_PER_DAY", "2")
    strict = build_definitions(load_settings())

    def day_files_evaluation() -> tuple[bool, str]:
        result = strict.resolve_job_def("lake_day_files_job").execute_in_process(instance=instance)
        assert result.success  # a warning, not a failed run
        (evaluation,) = [
            e.asset_check_evaluation_data
            for e in result.all_events
            if e.event_type_value == "ASSET_CHECK_EVALUATION"
        ]
        assert evaluation.check_name == "lake_day_files"
        return evaluation.passed, evaluation.description or ""

    passed, description = day_files_evaluation()
    assert not passed and f"{day.date().isoformat()}: 3" in description
    assert (
        strict.resolve_job_def("lake_maintenance_job").execute_in_process(instance=instance).success
    )
    assert day_files_evaluation()[0]
    from soc_platform import factory

    lake = factory.lake(settings)
    assert lake.files_per_day() == {day.date(): 1}
    assert lake.read_events(day.date(), day.date()).num_rows == 3


def test_noisy_rules_check_warns_on_a_rule_analysts_keep_closing_as_false_positive(
    work_dir: Path, pg_dsn: str, monkeypatch: pytest.MonkeyPatch, instance: dg.DagsterInstance
) -> None:
    from soc_platform.incidents.lifecycle import Change, apply_change

    monkeypatch.setenv("SOC_DATA_DIR", str(work_dir))
    monkeypatch.setenv("SOC_PG_DSN", pg_dsn)
    monkeypatch.setenv("SOC_PARTITIONS_START", (NOW - timedelta(days=30)).date().isoformat())
    monkeypatch.setenv("SOC_NOISY_RULE_MIN_CLOSED", "2")
    defs = build_definitions(load_settings())
    start = NOW.replace(minute=0, second=0) - timedelta(hours=3)
    bursts = [
        sqli_burst(start + timedelta(minutes=20 * i), f"198.51.100.{60 + i}") for i in range(3)
    ]
    path = land(load_settings(), "bursts.jsonl", [e for b in bursts for e in b])
    assert run_microbatch(defs, instance, [path]).success
    with psycopg.connect(pg_dsn) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM incidents ORDER BY id")]
        assert len(ids) == 3
        for iid in ids[:2]:
            apply_change(conn, iid, Change(status="false_positive"), actor="alice")
    fresh = defs.resolve_job_def("hot_freshness_job").execute_in_process(instance=instance)
    (noisy,) = [
        e.asset_check_evaluation_data
        for e in fresh.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and e.asset_check_evaluation_data.check_name == "noisy_rules"
    ]
    assert not noisy.passed and noisy.severity == dg.AssetCheckSeverity.WARN
    assert "waf-sqli-burst: 2 of 2 closed incidents were false positives" in (
        noisy.description or ""
    )
