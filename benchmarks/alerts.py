"""Alert latency: from an incident's commit to its notification at a webhook receiver.

1. **In the micro-batch** (the goal: p95 <= 5 s): ``--runs`` runs of ``soc-platform run``
   (a subprocess each, exactly as an operator runs it, with ``SOC_ALERT_WEBHOOK_URL``
   alone), each landing one file of ``--per-run`` SQL-injection bursts from distinct /24s
   towards a critical host (so each is a high/critical incident and its own message). For
   every notification: the receiver's arrival time minus the outbox intent's ``created_at``
   (written in the incident's transaction, just before it commits). The run's own start-up
   (Python, Dagster, ingest, load) is before the commit and not counted.
2. **The sender alone**: ``--intents`` intents in distinct groups drained by
   ``sender.drain`` to the same receiver: messages/s and the per-message time, against the
   floor measured in the same run: a bare ``urllib`` POST of the same body to the same
   receiver (ratio = ours / floor).

    .venv/bin/python benchmarks/alerts.py [--runs 6] [--per-run 4] [--intents 300]
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
from _common import header, line, percentile, pg_cluster, temp_dir

from soc_platform.alerts import outbox, sender
from soc_platform.hot.store import HotPolicy, HotStore
from soc_platform.settings import load_settings

ARRIVALS: list[tuple[float, dict[str, Any]]] = []


class _Receiver(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        ARRIVALS.append((time.time(), json.loads(body)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


def _event(ts: datetime, ip: str, i: int) -> str:
    return json.dumps(
        {
            "timestamp": ts.isoformat().replace("+00:00", "Z"),
            "client_ip": ip,
            "host": "shop.example.com",
            "request_method": "GET",
            "request_uri": f"/products?id={i}'+OR+'1'='1",
            "status_code": 403,
            "user_agent": "Mozilla/5.0",
            "rule_id": 942100,
            "rule_msg": "SQL Injection Attack Detected via libinjection",
            "tags": ["attack-sqli", "OWASP_CRS"],
            "action": "blocked",
        }
    )


def in_job(dsn: str, tmp: Path, url: str, runs: int, per_run: int) -> list[float]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("SOC_", "DAGSTER_"))}
    assets = tmp / "assets.yml"
    assets.write_text("shop.example.com: critical\n")
    env = {
        **keep,
        "SOC_DATA_DIR": str(tmp / "data"),
        "SOC_PG_DSN": dsn,
        "SOC_ASSET_CRITICALITY": str(assets),
        "SOC_ALERT_WEBHOOK_URL": url,
        "PYTHONWARNINGS": "ignore",
    }
    landing = tmp / "data" / "landing"
    landing.mkdir(parents=True)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    for run in range(runs):
        lines = [
            _event(start + timedelta(minutes=run, seconds=i * 3), f"203.0.{run * per_run + k}.9", i)
            for k in range(per_run)
            for i in range(30)
        ]
        (landing / f"batch-{run}.jsonl").write_text("\n".join(lines) + "\n")
        done = subprocess.run(
            [sys.executable, "-m", "soc_platform.cli", "run"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"soc-platform run failed: {done.stderr.strip()[-500:]}")
    with psycopg.connect(dsn) as conn:
        created = {
            int(i): c.timestamp()
            for i, c in conn.execute("SELECT id, created_at FROM alert_outbox").fetchall()
        }
    return [
        arrived - created[n["id"]]
        for arrived, body in ARRIVALS
        for n in body["notifications"]
        if n["id"] in created
    ]


def sender_alone(dsn: str, url: str, intents: int) -> tuple[float, float]:
    config = load_settings({"SOC_ALERT_WEBHOOK_URL": url}).alerts
    assert config is not None
    rows = [
        {"id": f"b{i}", "rule": "r", "severity": "high", "client_ip": f"10.{i // 250}.{i % 250}.1"}
        for i in range(intents)
    ]
    with psycopg.connect(dsn) as conn:
        conn.execute("DELETE FROM alert_outbox")
        outbox.record_upsert(conn, rows, {}, config)
    store = HotStore(dsn)
    dest = config.destinations["webhook"]
    dest = type(dest)(**{**dest.__dict__, "rate_per_minute": 1_000_000})
    config = type(config)(**{**config.__dict__, "destinations": {"webhook": dest}})
    t0 = time.perf_counter()
    report = sender.drain(store.connect, config, batch=intents)
    ours = (time.perf_counter() - t0) / max(1, report.messages)
    body = json.dumps(ARRIVALS[-1][1]).encode()
    t0 = time.perf_counter()
    for _ in range(intents):
        request = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
    floor = (time.perf_counter() - t0) / intents
    return ours, floor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--per-run", type=int, default=4)
    parser.add_argument("--intents", type=int, default=300)
    args = parser.parse_args()
    header("alerts: incident commit -> webhook receiver")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        with pg_cluster("alerts") as (_, dsn), temp_dir("alerts") as tmp:
            HotStore(dsn, policy=HotPolicy(retention_days=0)).setup()
            latencies = in_job(dsn, tmp, url, args.runs, args.per_run)
            line("notifications delivered by the job", f"{len(latencies)}")
            if latencies:
                line("commit -> receiver p50", f"{percentile(latencies, 50):.3f} s")
                line("commit -> receiver p95 (goal <= 5 s)", f"{percentile(latencies, 95):.3f} s")
                line("commit -> receiver max", f"{max(latencies):.3f} s")
            ours, floor = sender_alone(dsn, url, args.intents)
            line(f"sender alone, {args.intents} messages", f"{ours * 1000:.2f} ms/message")
            line("floor: bare urllib POST", f"{floor * 1000:.2f} ms/message")
            line("ratio ours / floor", f"{ours / floor:.2f}")
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
