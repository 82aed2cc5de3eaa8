"""kill -9 of a NATS micro-batch (``soc-platform run --source nats``) between fetching
its messages and acknowledging them: the next run, once JetStream redelivers them
(``ack_wait``), leaves every event exactly once in the hot store and the lake, every
poison message once in the dead letters, and nothing pending on the consumer."""

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from soc_platform.hot.embedded import EmbeddedPostgres
from soc_platform.lake.iceberg import Lake, LakeConfig
from soc_platform.settings import load_settings
from soc_platform.sources import nats as nats_source
from tests.faults import faultkit
from tests.faults.conftest import new_database
from tests.helpers import waf_event
from tests.natskit import nats_server, publish

pytestmark = pytest.mark.faults

ACK_WAIT = 3
EVENTS = 300
POISON = [b"{poison", b'["not an object"]']


@pytest.mark.parametrize(
    "point",
    [
        "parse",  # fetched and parsed, nothing stored
        "lake_commit",  # in the lake, not in the hot store
        "aggregates",  # in the lake and the hot store, not acknowledged
        "retire",  # correlated and indexed, not acknowledged
        "retire_file",  # acknowledged, the run not finished
    ],
)
def test_kill_9_between_fetch_and_ack_loses_and_duplicates_nothing(
    point: str, work_dir: Path, pg_cluster: EmbeddedPostgres, pycache: Path
) -> None:
    dsn = new_database(pg_cluster)
    now = datetime.now(UTC).replace(microsecond=0)
    with nats_server(work_dir / "nats") as server:
        env = faultkit.child_env(
            {
                "SOC_DATA_DIR": str(work_dir / "data"),
                "SOC_PG_DSN": dsn,
                "SOC_NATS_URL": server.url,
                "SOC_NATS_ACK_WAIT_SECONDS": str(ACK_WAIT),
                "SOC_NATS_WAIT_SECONDS": "1",
                "SOC_PARTITIONS_START": (now - timedelta(days=30)).date().isoformat(),
            },
            pycache,
        )
        t = now - timedelta(minutes=40)
        events = [
            json.dumps(waf_event(t + timedelta(seconds=i), f"198.51.100.{i % 50}", uri=f"/k/{i}"))
            for i in range(EVENTS)
        ]
        publish(server.url, "waf.seed", [e.encode() for e in events[:150]] + POISON)
        publish(server.url, "waf.seed", [e.encode() for e in events[150:]])

        killed = faultkit.cli({**env, "SOC_FAULT": f"kill:{point}"}, "run", "--source", "nats")
        assert killed.returncode == -9, killed.stderr
        time.sleep(ACK_WAIT + 0.5)  # JetStream redelivers what the dead run did not ack
        again = faultkit.cli(env, "run", "--source", "nats", "--json")
        assert again.returncode == 0, again.stderr

        with psycopg.connect(dsn) as conn:
            row = conn.execute(
                "SELECT count(*), count(DISTINCT event_id) FROM waf_events"
            ).fetchone()
        assert row == (EVENTS, EVENTS)
        settings = load_settings(env)
        lake = Lake(LakeConfig.from_settings(settings))
        raw = lake.table("raw_waf_events").scan(selected_fields=("event_id",)).to_arrow()
        assert raw.num_rows == EVENTS == len(set(raw["event_id"].to_pylist()))
        dead = lake.table("dead_letter").scan().to_arrow().to_pylist()
        assert sorted((d["source_offset"], d["reason"]) for d in dead) == [
            (151, "invalid_json"),
            (152, "not_an_object"),
        ]
        lag = nats_source.lag(nats_source.source_from_settings(settings))
        assert (lag.num_pending, lag.num_ack_pending) == (0, 0)
