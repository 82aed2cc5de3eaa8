"""The embedded PostgreSQL's port, ``soc-platform status`` and ``soc-platform stop``, driven
as a user would, in subprocesses, with real clusters."""

import json
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from soc_platform.hot.embedded import EmbeddedPostgres, free_port
from tests.helpers import clean_environ

CLI = [sys.executable, "-m", "soc_platform.cli"]


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def embedded_env(data: Path) -> dict[str, str]:
    env = clean_environ()
    return {**env, "SOC_DATA_DIR": str(data), "PYTHONWARNINGS": "ignore"}


@pytest.mark.timeout(600)
def test_data_dirs_side_by_side_remembered_ports_status_and_stop(work_dir: Path) -> None:
    """Two data directories started at once (and one of them twice at once) each get a
    cluster on their own port; a restart reuses the remembered port, or picks another
    when something else took it; status says what runs where; stop stops it."""
    first, second = work_dir / "first", work_dir / "second"
    envs = [embedded_env(first), embedded_env(second), embedded_env(first)]
    try:
        with ThreadPoolExecutor(3) as pool:
            results = list(pool.map(lambda env: cli(env, "incidents", "--json"), envs))
        for proc in results:
            assert json.loads(ok(proc)) == []
        servers = [EmbeddedPostgres(d / "postgres") for d in (first, second)]
        states = [s.state() for s in servers]
        assert all(s.running for s in states)
        ports = [s.port for s in states]
        assert ports[0] != ports[1]
        assert [s.remembered_port() for s in servers] == ports

        status = json.loads(ok(cli(envs[0], "status", "--json")))
        hot = status["hot_store"]
        assert (hot["mode"], hot["running"], hot["port"], hot["pid"]) == (
            "embedded",
            True,
            ports[0],
            states[0].pid,
        )
        assert hot["data_dir"] == str(first / "postgres")
        assert hot["version"].startswith(("15", "16", "17", "18"))
        assert hot["dialect"] == "plain" and hot["rows"] == {
            "waf_events": 0,
            "incidents": 0,
            "search_backlog": 0,
        }
        assert status["search"]["backend"] == "embedded"
        assert status["landing"] == {
            "dir": str(first / "landing"),
            "files_waiting": 0,
            "bytes_waiting": 0,
        }
        assert status["dagster_home"] == str(first / "dagster")
        text = ok(cli(envs[0], "status"))
        assert f"running, pid {states[0].pid}, 127.0.0.1:{ports[0]}" in text

        stopped = ok(cli(envs[0], "stop"))
        assert f"stopped the embedded PostgreSQL (pid {states[0].pid}, port {ports[0]})" in stopped
        assert not servers[0].state().running
        assert "is not running" in ok(cli(envs[0], "stop"))
        assert f"stopped, last port {ports[0]}" in ok(cli(envs[0], "status"))

        # a restart reuses the remembered port
        ok(cli(envs[0], "incidents"))
        assert servers[0].state().port == ports[0]

        # ... unless another program took it meanwhile: then another free one, remembered
        ok(cli(envs[0], "stop"))
        with socket.socket() as squatter:
            # (as PostgreSQL binds: the stopped server's connections may linger in TIME_WAIT)
            squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            squatter.bind(("127.0.0.1", ports[0]))
            squatter.listen()
            ok(cli(envs[0], "incidents"))
            moved = servers[0].state().port
            assert moved not in (None, ports[0], ports[1])
            assert servers[0].remembered_port() == moved
    finally:
        for data in (first, second):
            EmbeddedPostgres(data / "postgres").stop()


def test_status_of_external_services_hides_credentials(work_dir: Path, pg_dsn: str) -> None:
    closed = free_port()
    landing = work_dir / "landing"
    landing.mkdir()
    (landing / "a.jsonl").write_text("{}\n")
    (landing / ".b.jsonl.tmp").write_text("{}\n")  # still being written: not counted
    env = {
        **embedded_env(work_dir / "data"),
        "SOC_PG_DSN": pg_dsn,
        "SOC_LANDING_DIR": str(landing),
        "MEILI_URL": f"http://admin:Status-Secret-1@127.0.0.1:{closed}",
    }
    password = pg_dsn.split(":")[2].split("@")[0]
    proc = cli(env, "status", "--json")
    assert password not in proc.stdout and "Status-Secret-1" not in proc.stdout
    status = json.loads(ok(proc))
    hot = status["hot_store"]
    assert hot["mode"] == "external" and hot["reachable"] is True
    assert hot["dsn"] == pg_dsn.replace(password, "***")
    assert hot["dialect"] is None and hot["schema_version"] == 0  # nothing set up yet
    assert status["search"] == {
        "backend": "meilisearch",
        "url": f"http://admin:***@127.0.0.1:{closed}",
        "health": "unreachable (connection refused)",
    }
    assert status["landing"]["files_waiting"] == 1
    assert status["lake"]["note"].startswith("no catalog yet")
    assert not (work_dir / "data" / "lake").exists()  # status creates nothing

    down = {**env, "SOC_PG_DSN": f"postgresql://soc:Status-Secret-2@127.0.0.1:{closed}/soc"}
    text = ok(cli(down, "status"))
    assert "Status-Secret-2" not in text
    assert f"external PostgreSQL postgresql://soc:***@127.0.0.1:{closed}/soc" in text
    assert "unreachable: " in text and "Connection refused" in text
    assert "is not running (the hot store is the external server of SOC_PG_DSN)" in ok(
        cli(down, "stop")
    )
