"""``soc-platform run`` with ``SOC_ALERT_WEBHOOK_URL`` alone: the micro-batch's send step
delivers every new incident of severity high or above to a real webhook receiver, once;
running the same days again (a backfill) sends nothing more; secrets never appear in the
command's output."""

import hashlib
import hmac
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from tests.alertkit import http_receiver
from tests.helpers import clean_environ, sqli_burst, to_jsonl

CLI = [sys.executable, "-m", "soc_platform.cli"]
SECRET = "e2e-webhook-secret"


@pytest.fixture
def env(work_dir: Path, pg_dsn: str) -> dict[str, str]:
    keep = clean_environ()
    assets = work_dir / "assets.yml"
    assets.write_text("shop.example.com: critical\n")  # a critical target: severity high+
    return {
        **keep,
        "SOC_DATA_DIR": str(work_dir / "data"),
        "SOC_PG_DSN": pg_dsn,
        "SOC_ASSET_CRITICALITY": str(assets),
        "SOC_ALERT_WEBHOOK_SECRET": SECRET,
        "PYTHONWARNINGS": "ignore",
    }


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_run_notifies_a_new_high_incident_once(env: dict[str, str], pg_dsn: str) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(minutes=10)
    landing = Path(env["SOC_DATA_DIR"]) / "landing"
    landing.mkdir(parents=True)
    (landing / "a.jsonl").write_text(to_jsonl(sqli_burst(start, "198.51.100.200", n=40)))
    with http_receiver() as receiver:
        env["SOC_ALERT_WEBHOOK_URL"] = receiver.url + "/hook/T0PSECRETPATH"
        first = cli(env, "run", "--json")
        assert first.returncode == 0, first.stderr
        assert "T0PSECRETPATH" not in first.stdout + first.stderr
        assert SECRET not in first.stdout + first.stderr
        with psycopg.connect(pg_dsn) as conn:
            severities = [r[0] for r in conn.execute("SELECT severity FROM incidents").fetchall()]
        high = [s for s in severities if s in ("high", "critical")]
        assert high, severities
        ids = {n["incident"]["id"] for r in receiver.requests for n in r.json()["notifications"]}
        assert len(ids) == len(high)
        for r in receiver.requests:
            digest = hmac.new(SECRET.encode(), r.body, hashlib.sha256).hexdigest()
            assert r.headers["x-soc-signature"] == f"sha256={digest}"
        sent = len(receiver.requests)

        # the same day again: a backfill re-evaluates it; nobody is notified again
        day = start.date().isoformat()
        again = cli(env, "backfill", "--start", day, "--end", day, "--json")
        assert again.returncode == 0, again.stderr
        drained = cli(env, "alerts", "send", "--json")
        assert drained.returncode == 0, drained.stderr
        assert json.loads(drained.stdout)["sent"] == 0
        assert len(receiver.requests) == sent
        status = cli(env, "alerts", "status", "--json")
        assert json.loads(status.stdout)["sent"] == len(high)
    # the secrets are nowhere in what Dagster stored (run storage, event logs, compute logs)
    for path in Path(env["SOC_DATA_DIR"], "dagster").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"T0PSECRETPATH" not in data and SECRET.encode() not in data, path
