"""Alerting in Dagster: alerts_sensor and alerts_job exist only when alerting is
configured; alerts_job delivers to a real receiver and evaluates the alerts_delivered
check (failing on a dead notification); the sensor launches it only for notifications
left due."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from soc_platform.alerts import outbox
from soc_platform.definitions import build_definitions
from soc_platform.hot.store import HotPolicy, HotStore
from soc_platform.settings import load_settings
from tests.alertkit import Receiver, http_receiver

NOW = datetime.now(UTC)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with http_receiver() as r:
        yield r


@pytest.fixture
def env(work_dir: Path, pg_dsn: str, monkeypatch: pytest.MonkeyPatch, receiver: Receiver) -> None:
    monkeypatch.setenv("SOC_DATA_DIR", str(work_dir))
    monkeypatch.setenv("SOC_PG_DSN", pg_dsn)
    monkeypatch.setenv("SOC_PARTITIONS_START", (NOW - timedelta(days=3)).date().isoformat())
    HotStore(pg_dsn, policy=HotPolicy(retention_days=0)).setup()


def intent(pg_dsn: str, iid: str, ip: str) -> None:
    config = load_settings().alerts
    row = {"id": iid, "rule": "r", "severity": "critical", "client_ip": ip}
    with psycopg.connect(pg_dsn) as conn:
        assert outbox.record_upsert(conn, [row], {}, config) == 1


def check_of(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    [evaluation] = [
        e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    assert isinstance(evaluation, dg.AssetCheckEvaluation)
    return evaluation


def test_not_configured_no_alert_sensor(env: None) -> None:
    defs = build_definitions(load_settings())
    names = {s.name for s in defs.sensors or []}
    assert "alerts_sensor" not in names
    job = defs.resolve_job_def("microbatch_job")
    assert "send_alerts" in {n.name for n in job.nodes}  # a no-op without configuration


def test_alerts_job_delivers_and_the_check_fails_on_dead(
    env: None, pg_dsn: str, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOC_ALERT_WEBHOOK_URL", receiver.url + "/h")
    defs = build_definitions(load_settings())
    sensor = defs.resolve_sensor_def("alerts_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    job = defs.resolve_job_def("alerts_job")

    intent(pg_dsn, "a", "10.0.0.1")
    with dg.instance_for_test() as instance:
        # just written: not yet left behind, the sensor waits for the micro-batch's step
        with dg.build_sensor_context(instance=instance, resources=defs.resources) as ctx:
            skipped = sensor(ctx)
        assert isinstance(skipped, dg.SensorResult) and not skipped.run_requests
        with psycopg.connect(pg_dsn) as conn:
            conn.execute("UPDATE alert_outbox SET next_attempt_at = now() - interval '1 minute'")
        with dg.build_sensor_context(instance=instance, resources=defs.resources) as ctx:
            launched = sensor(ctx)
        assert isinstance(launched, dg.SensorResult) and len(launched.run_requests or []) == 1

        result = job.execute_in_process(instance=instance)
        assert result.success
        assert len(receiver.requests) == 1
        assert check_of(result).passed

        intent(pg_dsn, "b", "10.9.0.1")
        with psycopg.connect(pg_dsn) as conn:  # a notification that kept failing
            conn.execute("UPDATE alert_outbox SET status = 'dead', last_error = 'HTTP 500'")
        failed = job.execute_in_process(instance=instance)
        assert failed.success  # the job ran; its check says what is wrong
        evaluation = check_of(failed)
        assert not evaluation.passed
        assert evaluation.check_name == "alerts_delivered"
        assert "soc-platform alerts dead --retry-all" in (evaluation.description or "")
