"""The S3/MinIO source, run for real: moto's S3 server (a real HTTP server; the compose
stack's MinIO too when reachable), real sensor ticks, real Dagster runs, a real hot store.

Objects use AWS WAF's own layout
(``AWSLogs/<account>/WAFLogs/<region>/<webacl>/YYYY/MM/DD/HH/mm/*.log.gz``)."""

import gzip
import logging
import os
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
import pytest

from soc_platform import cli
from soc_platform.definitions import build_definitions
from soc_platform.lake.iceberg import Lake, LakeConfig
from soc_platform.settings import Settings, load_settings
from tests.helpers import to_jsonl, waf_event

NOW = datetime.now(UTC).replace(microsecond=0)
ACCOUNT, REGION, ACL = "111122223333", "us-east-1", "TEST-WEBACL"
PREFIX = f"AWSLogs/{ACCOUNT}/WAFLogs/{REGION}/{ACL}/"
BUCKET = "aws-waf-logs-soc-test"
MINIO = os.environ.get("SOC_TEST_MINIO_URL", "http://127.0.0.1:9000")


def waf_key(minute: datetime, suffix: str, ext: str = ".log.gz") -> str:
    stamp = minute.strftime("%Y%m%dT%H%MZ")
    return f"{PREFIX}{minute:%Y/%m/%d/%H/%M}/{ACCOUNT}_waflogs_{REGION}_{ACL}_{stamp}_{suffix}{ext}"


def _minio_reachable() -> bool:
    try:
        with urllib.request.urlopen(f"{MINIO}/minio/health/live", timeout=1) as r:
            return bool(r.status == 200)
    except OSError:
        return False


@pytest.fixture(params=["moto", "minio"])
def s3(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """Endpoint and credentials of a real S3 server with an empty ``BUCKET``."""
    import boto3

    if request.param == "moto":
        from moto.server import ThreadedMotoServer

        from soc_platform.hot.embedded import free_port

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request
        port = free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        conf = {"endpoint": f"http://127.0.0.1:{port}", "key": "test", "secret": "test"}
    else:
        if not _minio_reachable():
            pytest.skip(f"no MinIO at {MINIO} (docker compose up minio, or SOC_TEST_MINIO_URL)")
        server = None
        conf = {
            "endpoint": MINIO,
            "key": os.environ.get("SOC_TEST_MINIO_KEY", "soc"),
            "secret": os.environ.get("SOC_TEST_MINIO_SECRET", "soc-dev-secret"),
        }
    client = boto3.client(
        "s3",
        endpoint_url=conf["endpoint"],
        aws_access_key_id=conf["key"],
        aws_secret_access_key=conf["secret"],
        region_name="us-east-1",
    )
    bucket = f"{BUCKET}-{uuid.uuid4().hex[:12]}"  # moto keeps buckets across servers
    client.create_bucket(Bucket=bucket)
    conf["bucket"] = bucket
    try:
        yield conf
    finally:
        if server is not None:
            server.stop()
        else:  # leave the shared MinIO as found
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                for obj in page.get("Contents", []):
                    client.delete_object(Bucket=bucket, Key=obj["Key"])
            client.delete_bucket(Bucket=bucket)


@pytest.fixture
def client(s3: dict[str, str]) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=s3["endpoint"],
        aws_access_key_id=s3["key"],
        aws_secret_access_key=s3["secret"],
        region_name="us-east-1",
    )


@pytest.fixture
def settings(
    work_dir: Path, pg_dsn: str, s3: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Settings:
    monkeypatch.setenv("SOC_DATA_DIR", str(work_dir))
    monkeypatch.setenv("SOC_PG_DSN", pg_dsn)
    monkeypatch.setenv("SOC_PARTITIONS_START", (NOW - timedelta(days=30)).date().isoformat())
    monkeypatch.setenv("SOC_LANDING_RETRY_BASE_SECONDS", "0")
    monkeypatch.setenv("SOC_LANDING_RETRY_MAX_SECONDS", "0")
    monkeypatch.setenv("SOC_S3_BUCKET", s3["bucket"])
    monkeypatch.setenv("SOC_S3_PREFIX", f"AWSLogs/{ACCOUNT}/WAFLogs/")
    monkeypatch.setenv("SOC_S3_ENDPOINT", s3["endpoint"])
    monkeypatch.setenv("SOC_S3_ACCESS_KEY_ID", s3["key"])
    monkeypatch.setenv("SOC_S3_SECRET_ACCESS_KEY", s3["secret"])
    monkeypatch.setenv("SOC_S3_REGION", "us-east-1")
    return load_settings()


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst


def tick(
    defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None = None
) -> tuple[list[dg.RunRequest], str | None]:
    sensor = defs.resolve_sensor_def("s3_sensor")
    resources = {k: defs.resources[k] for k in ("s3", "hot", "landing")}
    data = sensor.evaluate_tick(
        dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
    )
    return list(data.run_requests or []), data.skip_message


def drain(defs: dg.Definitions, instance: dg.DagsterInstance) -> list[dg.ExecuteInProcessResult]:
    """Tick and execute what the sensor asks for until it has nothing to do."""
    results = []
    for _ in range(10):
        requests, _skip = tick(defs, instance)
        if not requests:
            return results
        for request in requests:
            job = defs.resolve_job_def(request.job_name or "microbatch_job")
            results.append(
                job.execute_in_process(
                    run_config=request.run_config,
                    instance=instance,
                    tags=dict(request.tags),
                    raise_on_error=False,
                )
            )
    raise AssertionError("the sensor kept requesting runs")


def put(
    client: Any, bucket: str, key: str, events: list[dict[str, Any]], *, gz: bool = True
) -> None:
    body = to_jsonl(events).encode()
    client.put_object(Bucket=bucket, Key=key, Body=gzip.compress(body) if gz else body)


def keys(client: Any, bucket: str, prefix: str = "") -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for p in pages for o in p.get("Contents", []))


def hot_counts(dsn: str) -> tuple[int, int]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(*), count(DISTINCT event_id) FROM waf_events").fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def events(n: int, start: datetime, ip: str) -> list[dict[str, Any]]:
    return [waf_event(start + timedelta(seconds=i), ip, uri=f"/{ip}/{i}") for i in range(n)]


def test_aws_layout_objects_go_through_once_even_when_they_appear_late(
    settings: Settings, s3: dict[str, str], client: Any, instance: dg.DagsterInstance, pg_dsn: str
) -> None:
    """Two WAF log files of one 5-minute folder (told apart by their hash), one of the next
    folder and a Firehose-style object without extension or compression: all ingested,
    deleted after the commit. Then a file appears late, under a key that sorts before every
    key already read: the next tick still finds it. A restarted deployment (new
    definitions, no sensor cursor) reads nothing twice."""
    bucket = s3["bucket"]
    t = (NOW - timedelta(hours=1)).replace(minute=50, second=0)
    put(client, bucket, waf_key(t, "e0ca43b5"), events(10, t, "198.51.100.1"))
    put(client, bucket, waf_key(t, "0a0a0a0a"), events(7, t, "198.51.100.2"))
    put(client, bucket, waf_key(t + timedelta(minutes=5), "1b1b1b1b"), events(5, t, "198.51.100.3"))
    plain = f"AWSLogs/{ACCOUNT}/WAFLogs/firehose/aws-waf-logs-stream-1-2026-11-30-19-50-01-1b2c"
    put(client, bucket, plain, events(3, t, "198.51.100.4"), gz=False)
    outside = "other/not-ours.log.gz"
    put(client, bucket, outside, events(2, t, "198.51.100.9"))

    defs = build_definitions(settings)
    assert defs.resolve_sensor_def("s3_sensor").default_status is dg.DefaultSensorStatus.RUNNING
    results = drain(defs, instance)
    assert results and all(r.success for r in results)
    assert hot_counts(pg_dsn) == (25, 25)
    assert keys(client, bucket) == [outside]  # processed objects deleted, others untouched

    # late: a key lexically before everything read so far (an earlier folder)
    late = waf_key(t - timedelta(minutes=10), "ffffffff")
    put(client, bucket, late, events(4, t, "198.51.100.5"))
    restarted = build_definitions(load_settings())
    assert all(r.success for r in drain(restarted, instance))
    assert hot_counts(pg_dsn) == (29, 29)
    assert keys(client, bucket) == [outside]
    requests, skip = tick(restarted, instance)
    assert requests == [] and skip and f"s3://{bucket}/AWSLogs/" in skip

    # the lake names each event's object
    lake = Lake(LakeConfig.from_settings(settings))
    files = set(lake.table("raw_waf_events").scan().to_arrow()["source_file"].to_pylist())
    assert f"s3://{bucket}/{late}" in files and f"s3://{bucket}/{plain}" in files


def test_archive_mode_moves_objects_and_a_truncated_one_is_quarantined(
    settings: Settings,
    s3: dict[str, str],
    client: Any,
    instance: dg.DagsterInstance,
    pg_dsn: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """SOC_LANDING_DONE=archive: a processed object moves under processed/DAY/ (same key
    after it); an object whose gzip is cut off keeps the lines before the cut and moves to
    quarantine/ (its tail must not vanish); the quarantine check names it. A poison line
    is a dead letter naming its object."""
    monkeypatch.setenv("SOC_LANDING_DONE", "archive")
    settings = load_settings()
    bucket = s3["bucket"]
    t = (NOW - timedelta(hours=2)).replace(minute=0, second=0)
    good = waf_key(t, "aaaaaaaa")
    body = (to_jsonl(events(6, t, "198.51.100.6")) + "not json\n").encode()
    client.put_object(Bucket=bucket, Key=good, Body=gzip.compress(body))
    cut = waf_key(t, "bbbbbbbb")
    whole = gzip.compress(to_jsonl(events(3000, t, "198.51.100.7")).encode())
    client.put_object(Bucket=bucket, Key=cut, Body=whole[: len(whole) // 2])

    defs = build_definitions(settings)
    results = drain(defs, instance)
    assert [r.success for r in results] == [True]
    total, distinct = hot_counts(pg_dsn)
    assert total == distinct and 6 < total < 6 + 3000  # the cut object's first lines are kept
    day = datetime.now(UTC).date().isoformat()
    assert keys(client, bucket, PREFIX) == []
    assert keys(client, bucket, "processed/") == [f"processed/{day}/{good}"]
    assert keys(client, bucket, "quarantine/") == [f"quarantine/{cut}"]
    (check,) = [
        e.asset_check_evaluation_data
        for e in results[0].get_step_success_events() + results[0].all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and e.asset_check_evaluation_data.check_name == "landing_quarantine_empty"
    ]
    assert not check.passed and cut in (check.description or "")
    lake = Lake(LakeConfig.from_settings(settings))
    dead = lake.table("dead_letter").scan().to_arrow().to_pylist()
    assert {(d["source_file"], d["source_offset"], d["reason"]) for d in dead} >= {
        (f"s3://{bucket}/{good}", 6, "invalid_json")
    }

    # the operator releases it: back under its key, out of the ledger
    assert cli.main(["landing", "list", "--source", "s3"]) == 0
    listed = capsys.readouterr().out
    assert "quarantined" in listed and cut in listed
    assert cli.main(["landing", "release", "--source", "s3", f"quarantine/{cut}"]) == 0
    assert keys(client, bucket, "quarantine/") == [] and keys(client, bucket, PREFIX) == [cut]
    assert cli.main(["landing", "list", "--source", "s3", "--state", "quarantined"]) == 0
    assert "no quarantined landing files" in capsys.readouterr().out


def test_run_source_s3_from_the_command_line(
    settings: Settings,
    s3: dict[str, str],
    client: Any,
    pg_dsn: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bucket = s3["bucket"]
    t = (NOW - timedelta(hours=3)).replace(minute=5, second=0)
    put(client, bucket, waf_key(t, "cccccccc"), events(8, t, "198.51.100.8"))
    assert cli.main(["run", "--source", "s3"]) == 0
    assert "8 parsed, 8 new" in capsys.readouterr().out
    assert hot_counts(pg_dsn) == (8, 8)
    assert keys(client, bucket) == []
    assert cli.main(["run", "--source", "s3"]) == 0
    assert "nothing to do" in capsys.readouterr().out


def test_unreachable_bucket_is_one_clear_line(
    work_dir: Path, pg_dsn: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from soc_platform.hot.embedded import free_port

    monkeypatch.setenv("SOC_DATA_DIR", str(work_dir))
    monkeypatch.setenv("SOC_PG_DSN", pg_dsn)
    monkeypatch.setenv("SOC_S3_BUCKET", "nowhere")
    monkeypatch.setenv("SOC_S3_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("SOC_S3_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("SOC_S3_SECRET_ACCESS_KEY", "marker-secret-s3")
    assert cli.main(["run", "--source", "s3"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("soc-platform: error: cannot list s3://nowhere/")
    assert len(err.strip().splitlines()) == 1 and "marker-secret-s3" not in err


def test_unconfigured_sources_do_not_run_by_default(
    work_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOC_DATA_DIR", str(work_dir))
    defs = build_definitions(load_settings())
    for name in ("s3_sensor", "nats_sensor"):
        assert defs.resolve_sensor_def(name).default_status is dg.DefaultSensorStatus.STOPPED
    status = defs.resolve_sensor_def("microbatch_sensor").default_status
    assert status is dg.DefaultSensorStatus.RUNNING
