"""``soc-platform users`` and ``search`` (syntax errors, reindex) in subprocesses."""

import json
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.helpers import clean_environ

CLI = [sys.executable, "-m", "soc_platform.cli"]


def cli(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=env, input=stdin, capture_output=True, text=True, timeout=240
    )


@pytest.fixture
def env(work_dir: Path, pg_dsn: str) -> dict[str, str]:
    keep = clean_environ()
    return {
        **keep,
        "SOC_DATA_DIR": str(work_dir / "data"),
        "SOC_PG_DSN": pg_dsn,
        "PYTHONWARNINGS": "ignore",
    }


def test_users(env: dict[str, str], pg_dsn: str) -> None:
    added = cli(
        env,
        "users",
        "add",
        "alice",
        "--role",
        "responder",
        "--password-stdin",
        stdin="s3cret-pass\n",
    )
    assert added.returncode == 0, added.stderr
    again = cli(
        env, "users", "add", "alice", "--role", "viewer", "--password-stdin", stdin="s3cret-pass\n"
    )
    assert again.returncode == 2
    assert again.stderr == (
        "soc-platform: error: user 'alice' exists (soc-platform users passwd or users remove)\n"
    )
    listed = cli(env, "users", "list", "--json")
    assert json.loads(listed.stdout) == [{"name": "alice", "role": "responder"}]
    with psycopg.connect(pg_dsn) as conn:
        row = conn.execute("SELECT password_hash FROM ui_users WHERE name = 'alice'").fetchone()
    assert row is not None and row[0].startswith("scrypt$") and "s3cret" not in row[0]
    changed = cli(
        env,
        "users",
        "passwd",
        "alice",
        "--role",
        "admin",
        "--password-stdin",
        stdin="an0ther-pass\n",
    )
    assert changed.returncode == 0, changed.stderr
    assert cli(env, "users", "remove", "alice").returncode == 0
    gone = cli(env, "users", "remove", "alice")
    assert gone.returncode == 2 and "no user 'alice'" in gone.stderr


def test_search_syntax_errors_and_reindex(env: dict[str, str]) -> None:
    bad = cli(env, "search", "status:open colour:red")
    assert bad.returncode == 2
    assert bad.stderr.startswith(
        "soc-platform: error: search query: unknown filter 'colour'; use status:"
    )
    assert bad.stderr.count("\n") == 1
    reindex = cli(env, "search", "reindex", "--json")
    assert reindex.returncode == 0, reindex.stderr
    assert json.loads(reindex.stdout) == {
        "backend": "embedded",
        "indexed": 0,
        "pruned": 0,
        "backlog_drained": 0,
        "pending": 0,
    }
