"""The ``soc-platform`` command driven as a user would, in subprocesses."""

import gzip
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from soc_platform.hot.embedded import EmbeddedPostgres, free_port, port_is_free
from soc_platform.lake.iceberg import DEAD_LETTER, Lake, LakeConfig
from tests.helpers import clean_environ

CLI = [sys.executable, "-m", "soc_platform.cli"]


def cli(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=240, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture
def env(work_dir: Path, pg_dsn: str) -> dict[str, str]:
    keep = clean_environ()
    return {
        **keep,
        "SOC_DATA_DIR": str(work_dir / "data"),
        "SOC_PG_DSN": pg_dsn,
        "PYTHONWARNINGS": "ignore",
    }


def lake_of(data_dir: Path) -> Lake:
    return Lake(
        LakeConfig(
            catalog_uri=f"sqlite:///{data_dir / 'lake' / 'catalog.db'}",
            warehouse=(data_dir / "lake" / "warehouse").as_uri(),
        )
    )


def counts(data_dir: Path, dsn: str) -> tuple[int, int, list[tuple[str, int]]]:
    lake = lake_of(data_dir)
    lake_rows = lake.table("raw_waf_events").scan(selected_fields=("event_id",)).to_arrow().num_rows
    with psycopg.connect(dsn) as conn:
        hot_rows = conn.execute("SELECT count(*) FROM waf_events").fetchone()
        incidents = conn.execute("SELECT id, event_count FROM incidents ORDER BY id").fetchall()
    assert hot_rows is not None
    return lake_rows, int(hot_rows[0]), [(r[0], int(r[1])) for r in incidents]


def test_generate_run_incidents_search_and_redelivery(env: dict[str, str], pg_dsn: str) -> None:
    data = Path(env["SOC_DATA_DIR"])
    landing = data / "landing"
    cli(
        env,
        "generate",
        "--out",
        str(landing),
        "--events",
        "3000",
        "--minutes",
        "30",
        "--seed",
        "11",
    )
    truth = json.loads((landing / "_truth-s11.json").read_text())
    burst = next(c for c in truth if c["expected_rule"] == "waf-sqli-burst")
    silent = {c["client_ip"] for c in truth if c["expected_rule"] is None}
    others = {c["client_ip"]: c["expected_rule"] for c in truth if c["expected_rule"]}

    delivered = data.parent / "delivered"  # what the WAF shipped, to deliver it again below
    shutil.copytree(landing, delivered)
    run = cli(env, "run", "--json")
    summary = json.loads(run.stdout)
    assert summary["events_parsed"] == 3000 and summary["dead_letters"] == 0
    assert not list(landing.glob("*.jsonl.gz"))  # processed files leave the landing area
    nothing = cli(env, "run")  # and are not read again
    assert nothing.stdout.startswith("nothing to do: no .jsonl/.jsonl.gz files")

    listed = json.loads(cli(env, "incidents", "--json").stdout)
    sqli = [i for i in listed if i["rule"] == "waf-sqli-burst"]
    assert sqli, "the injected SQL-injection burst must produce an incident"
    assert {i["client_ip"] for i in sqli} == {burst["client_ip"]}
    # every campaign raises its rule; the slow probe raises no SQL-injection incident
    fired = {(i["client_ip"], i["rule"]) for i in listed}
    assert set(others.items()) <= fired
    assert not silent & {i["client_ip"] for i in sqli}
    if burst["start"][:10] == burst["end"][:10]:  # runs of windows stop at midnight UTC
        # one incident holding every event of the burst, wherever it fell in the windows
        assert [i["event_count"] for i in sqli] == [burst["events"]]
    else:
        assert all(i["event_count"] >= 10 for i in sqli)

    found = json.loads(cli(env, "search", "blocked attempts from 192.168", "--json").stdout)
    assert found["backend"] == "embedded"
    hit_ids = [h["id"] for h in found["hits"]]
    assert hit_ids[0] in {i["id"] for i in sqli}  # the SQL-injection burst ranks first
    assert all(h["client_ip"].startswith("192.168.") for h in found["hits"])

    before = counts(data, pg_dsn)
    assert before[0] == before[1] == 3000
    # the same files delivered again, and copies under other names
    for path in sorted(delivered.glob("*.jsonl.gz")):
        shutil.copy(path, landing / path.name)
        shutil.copy(path, landing / f"copy-{path.name}")
    again = json.loads(cli(env, "run", "--json").stdout)
    assert again["events_new"] == 0 and again["duplicates"] == 6000
    assert counts(data, pg_dsn) == before
    assert not list(landing.glob("*.jsonl.gz"))

    # the hot tier lost (landing files long gone): a backfill rebuilds it from the lake, twice
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE waf_events, waf_events_1m, waf_events_1h, incidents")
    days = sorted({e[:10] for c in truth for e in (c["start"], c["end"])})
    for _ in range(2):
        out = json.loads(
            cli(env, "backfill", "--start", days[0], "--end", days[-1], "--json").stdout
        )
        assert out["success"] and all(out["checks"].values()), out
        assert counts(data, pg_dsn) == before
        assert json.loads(cli(env, "incidents", "--json").stdout) == listed
    bad = cli(env, "backfill", "--start", days[-1], "--end", days[0], check=False)
    if days[0] != days[-1]:
        assert bad.returncode == 2 and "before --start" in bad.stderr


def test_bad_lines_go_to_the_dead_letter_with_reasons(env: dict[str, str]) -> None:
    data = Path(env["SOC_DATA_DIR"])
    landing = data / "landing"
    landing.mkdir(parents=True)
    good = (
        '{"timestamp":"2026-03-10T12:00:00Z","client_ip":"198.51.100.1","host":"h",'
        '"request_method":"GET","request_uri":"/","status_code":200}'
    )
    bad = {
        1: ("{not json", "invalid_json"),
        2: (good.replace("198.51.100.1", "300.1.1.1"), "invalid_ip"),
        4: (good.replace("2026-03-10T12:00:00Z", "10/Mar/2026:12:00:00"), "invalid_timestamp"),
        5: (good.replace('"status_code":200', '"status_code":"200"'), "wrong_type"),
        6: (good.replace('"host":"h",', ""), "missing_field"),
        7: (good.replace('"/"', '"/' + "a" * 3000 + '"'), "too_large"),  # SOC_MAX_LINE_BYTES
        8: (good.replace("2026-03-10", "9999-12-31"), "out_of_range"),
        9: (good[:-1] + ',"x":' + "[" * 900 + "]" * 900 + "}", "too_deep"),
    }
    lines = [
        good,
        bad[1][0],
        bad[2][0],
        good.replace("/", "/a"),
        *(bad[i][0] for i in range(4, 10)),
    ]
    with gzip.open(landing / "mixed.jsonl.gz", "wt") as fh:
        fh.write("\n".join(lines) + "\n")
    run = cli({**env, "SOC_MAX_LINE_BYTES": "2048"}, "run", "--json")
    summary = json.loads(run.stdout)
    assert summary["events_parsed"] == 2
    assert summary["dead_letter_reasons"] == {
        "invalid_ip": 1,
        "invalid_json": 1,
        "invalid_timestamp": 1,
        "missing_field": 1,
        "out_of_range": 1,
        "too_deep": 1,
        "too_large": 1,
        "wrong_type": 1,
    }
    stored = lake_of(data).table(DEAD_LETTER).scan().to_arrow().sort_by("source_offset")
    assert [(r["source_offset"], r["raw"], r["reason"]) for r in stored.to_pylist()] == [
        (off, raw[:2048] if reason == "too_large" else raw, reason)
        for off, (raw, reason) in sorted(bad.items())
    ]
    assert set(stored["source_file"].to_pylist()) == {str(landing / "mixed.jsonl.gz")}


def test_embedded_defaults_start_a_private_cluster(work_dir: Path) -> None:
    """No SOC_PG_DSN: the hot store is a cluster started under the data directory."""
    data = work_dir / "embedded"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOC_", "MEILI_", "DAGSTER_"))}
    env.update({"SOC_DATA_DIR": str(data), "SOC_PG_PORT": str(port), "PYTHONWARNINGS": "ignore"})
    try:
        out = cli(env, "demo", "--events", "1500", "--minutes", "20").stdout
        assert "blocked attempts from 192.168" in out
        assert "SQL injection burst" in out
        assert (data / "postgres" / "pgdata" / "PG_VERSION").is_file()
        assert (data / "dagster" / "dagster.yaml").is_file()
        # reused by the next command, not re-created
        listed = json.loads(cli(env, "incidents", "--json").stdout)
        assert "sql_injection" in {i["type"] for i in listed}
    finally:
        EmbeddedPostgres(data / "postgres", port).stop()


def test_user_errors_are_one_line(work_dir: Path, env: dict[str, str]) -> None:
    bad_dsn = {**env, "SOC_PG_DSN": "postgresql://soc:x@127.0.0.1:1/soc"}
    proc = cli(bad_dsn, "incidents", check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith("soc-platform: error: cannot connect to the hot store")
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1

    proc = cli({**env, "SOC_PG_PORT": "nope"}, "incidents", check=False)
    assert proc.returncode == 2 and "SOC_PG_PORT='nope'" in proc.stderr

    no_dsn = {k: v for k, v in env.items() if k != "SOC_PG_DSN"}
    proc = cli({**no_dsn, "SOC_PG_BIN_DIR": str(work_dir)}, "incidents", check=False)
    assert proc.returncode == 2 and "holds no initdb and pg_ctl" in proc.stderr

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = cli({**no_dsn, "SOC_PG_PORT": str(port)}, "incidents", check=False)
    assert proc.returncode == 2
    assert f"port {port} on 127.0.0.1 is taken by another program" in proc.stderr
    assert proc.stderr.count("\n") == 1

    landing = Path(env["SOC_DATA_DIR"]) / "landing"
    proc = cli(env, "run")
    assert proc.returncode == 0 and "nothing to do" in proc.stdout and str(landing) in proc.stdout


def test_dev_serves_the_ui_and_stops_on_sigterm(env: dict[str, str], work_dir: Path) -> None:
    import signal
    import time
    import urllib.request

    port, ui_port = free_port(), free_port()
    env = {**env, "TMPDIR": str(work_dir)}
    proc = subprocess.Popen(
        [*CLI, "dev", "--port", str(port), "--ui-port", str(ui_port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # as from a non-interactive shell's background job: SIGINT ignored
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        deadline = time.monotonic() + 120
        status = None
        while time.monotonic() < deadline and status != 200:
            time.sleep(1)
            assert proc.poll() is None, "soc-platform dev exited early"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info") as resp:
                    status = resp.status
            except OSError:
                continue
        assert status == 200
        # the analyst UI beside it (its login page: every other page needs a session)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/login") as resp:
                    assert resp.status == 200
                    break
            except OSError:
                time.sleep(1)
        else:
            raise AssertionError("the analyst UI did not answer")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) is not None
        # the UI went with it: its port is free again (an orphan kept it before)
        deadline = time.monotonic() + 30
        while not port_is_free(ui_port, "127.0.0.1"):
            assert time.monotonic() < deadline, "the analyst UI outlived soc-platform dev"
            time.sleep(0.5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


REALDATA = (Path(__file__).resolve().parents[2] / ".." / "shared" / "realdata").resolve()


def test_rules_commands(env: dict[str, str], work_dir: Path, pg_dsn: str) -> None:
    """The detection engineer's commands: validate, convert (SQL and report), test, hunt."""
    out = cli(env, "rules", "validate", "--strict").stdout
    assert "12 raise incidents" in out and "ERROR" not in out

    sql_out = cli(env, "rules", "convert").stdout
    assert "-- waf-sqli-burst (event_count)" in sql_out and "FROM waf_events AS e" in sql_out

    # a set with one good and one unconvertible rule: numbers and the reason
    rules = work_dir / "myrules"
    rules.mkdir()
    (rules / "good.yml").write_text(
        "title: Admin probe\nname: admin-probe\nlogsource: {category: webserver}\n"
        "detection:\n  sel:\n    cs-uri-stem|startswith: /admin\n  condition: sel\n"
        "tags: [attack.t1595]\n"
    )
    (rules / "bad.yml").write_text(
        "title: Bad referer\nname: bad-referer\nlogsource: {category: webserver}\n"
        "detection:\n  sel:\n    cs-referer|contains: evil\n  condition: sel\n"
    )
    report = json.loads(
        cli(env, "rules", "convert", "--report", str(rules), "--json", "--dsn", pg_dsn).stdout
    )
    assert (report["loaded"], report["converted"], report["ran"]) == (2, 1, 1)
    [failure] = report["failures"]
    assert failure["rule"] == "bad-referer" and "Referer" in failure["reason"]
    bad = cli(env, "rules", "validate", str(rules), check=False)
    assert bad.returncode == 1 and "bad-referer" in bad.stdout

    tested = cli(env, "rules", "test", "--rule", "waf-sqli-burst").stdout
    assert "ok   waf-sqli-burst positive: 1 incident(s)" in tested
    assert "2 passed, 0 failed" in tested

    # retro-hunt over a day with no live incidents of the candidate: everything is added
    landing = Path(env["SOC_DATA_DIR"]) / "landing"
    cli(env, "generate", "--out", str(landing), "--events", "1500", "--minutes", "30")
    cli(env, "run")
    truth = json.loads(next(landing.glob("_truth-*.json")).read_text())
    day = truth[0]["start"][:10]
    hunt = json.loads(
        cli(
            env, "rules", "hunt", "--start", day, "--end", day, "--rules", str(rules), "--json"
        ).stdout
    )
    assert hunt["rules"] == ["admin-probe"]
    assert hunt["added"] == hunt["incidents"] and hunt["removed"] == 0


@pytest.mark.skipif(not (REALDATA / "sigma_web").is_dir(), reason="../shared/realdata is absent")
def test_rules_convert_report_on_sigmahq_web_rules(env: dict[str, str], pg_dsn: str) -> None:
    report = json.loads(
        cli(
            env, "rules", "convert", "--report", str(REALDATA / "sigma_web"), "--json",
            "--dsn", pg_dsn,
        ).stdout
    )  # fmt: skip
    assert report["loaded"] == 145
    assert report["converted"] / report["loaded"] >= 0.9
    assert report["ran"] == report["converted"]
    assert all(f["reason"] and f["stage"] == "convert" for f in report["failures"])
