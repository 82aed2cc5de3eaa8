"""The alert sender killed with SIGKILL after a message reached its receiver and before
the outbox recorded it: the next drain sends that message again with the same outbox ids
and dedup keys (at most a resend), and every notification is delivered (never a loss)."""

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import psycopg
import pytest

from soc_platform.alerts import outbox
from soc_platform.hot.store import HotPolicy, HotStore
from soc_platform.settings import load_settings
from tests.alertkit import http_receiver

pytestmark = pytest.mark.faults
CLI = [sys.executable, "-m", "soc_platform.cli"]


def test_kill_between_send_and_commit_resends_never_loses(work_dir: Path, pg_dsn: str) -> None:
    HotStore(pg_dsn, policy=HotPolicy(retention_days=0)).setup()
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("SOC_", "DAGSTER_"))}
    with http_receiver() as receiver:
        env = {
            **keep,
            "SOC_DATA_DIR": str(work_dir / "data"),
            "SOC_PG_DSN": pg_dsn,
            "SOC_ALERT_WEBHOOK_URL": receiver.url,
            "PYTHONWARNINGS": "ignore",
        }
        config = load_settings(env).alerts
        rows = [
            {"id": f"inc-{i}", "rule": "r", "severity": "critical", "client_ip": f"10.{i}.0.1"}
            for i in range(3)
        ]  # three /24s: three messages
        with psycopg.connect(pg_dsn) as conn:
            assert outbox.record_upsert(conn, rows, {}, config) == 3

        killed = subprocess.run(
            [*CLI, "alerts", "send"],
            env={**env, "SOC_FAULT": "kill:alert_sent"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        assert len(receiver.requests) == 1  # delivered, then killed before the commit
        with psycopg.connect(pg_dsn) as conn:
            assert outbox.counts(conn)["pending"] == 3  # nothing recorded as sent

        again = subprocess.run(
            [*CLI, "alerts", "send"], env=env, capture_output=True, text=True, timeout=120,
            check=False,
        )  # fmt: skip
        assert again.returncode == 0, again.stderr
        with psycopg.connect(pg_dsn) as conn:
            assert outbox.counts(conn) == {
                "pending": 0,
                "sent": 3,
                "dead": 0,
                "silenced": 0,
                "canceled": 0,
            }
        delivered = Counter(
            (n["id"], n["dedup_key"]) for r in receiver.requests for n in r.json()["notifications"]
        )
        # every notification arrived; the killed one at most twice, with the same keys
        assert {key for _, key in delivered} == {"inc-0", "inc-1", "inc-2"}
        assert sorted(delivered.values()) == [1, 1, 2]
        assert len(receiver.requests) == 4
