"""``soc-platform incident ...``, ``incidents --status/...`` and ``rules stats`` through
the command's entry point (in-process; one subprocess for the exit status)."""

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from soc_platform.cli import main
from soc_platform.hot.store import HotPolicy, HotStore
from tests.integration.test_incident_lifecycle import NOON, one_incident


@pytest.fixture
def hot(pg_dsn: str, work_dir: Path, monkeypatch: pytest.MonkeyPatch) -> HotStore:
    monkeypatch.setenv("SOC_PG_DSN", pg_dsn)
    monkeypatch.setenv("SOC_DATA_DIR", str(work_dir / "data"))
    monkeypatch.setenv("SOC_HOT_RETENTION_DAYS", "0")  # the events' fixed past dates
    store = HotStore(pg_dsn, policy=HotPolicy(retention_days=0))
    store.setup()
    return store


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    status, out, err = run(capsys, *args, "--json")
    assert status == 0, err
    return json.loads(out)


def test_work_an_incident_from_the_command_line(
    hot: HotStore, capsys: pytest.CaptureFixture[str]
) -> None:
    iid = one_incident(hot, "198.51.100.20")
    done = run_json(capsys, "incident", "ack", iid, "--actor", "alice")
    assert done["incident"]["status"] == "acknowledged"
    assert [(a["actor"], a["action"], a["new"]) for a in done["audit"]] == [
        ("alice", "status", "acknowledged")
    ]
    run_json(capsys, "incident", "assign", "bob", iid, "--actor", "alice")
    status, out, _ = run(capsys, "incident", "note", "blocked at the edge", iid, "--actor", "bob")
    assert status == 0 and "bob noted: blocked at the edge" in out
    done = run_json(capsys, "incident", "resolve", iid, "--disposition", "benign", "--actor", "bob")
    assert (done["incident"]["status"], done["incident"]["disposition"]) == ("resolved", "benign")

    shown = run_json(capsys, "incident", "show", iid, "--events", "--limit", "5")
    inc = shown["incident"]
    assert (inc["assignee"], inc["notes"]) == ("bob", ["blocked at the edge"])
    assert [a["action"] for a in shown["audit"]] == [
        "created",
        "status",
        "assign",
        "note",
        "status",
        "disposition",
    ]
    rows = shown["events"]["rows"]
    assert len(rows) == 5 and {r["client_ip"] for r in rows} == {"198.51.100.20"}
    page3 = run_json(capsys, "incident", "show", iid, "--events", "--limit", "5", "--page", "3")
    assert len(page3["events"]["rows"]) == 2  # 12 events: 5 + 5 + 2
    status, out, _ = run(capsys, "incident", "show", iid)
    assert status == 0 and "status resolved (benign), assignee bob" in out
    assert "alice status status: open -> acknowledged" in out


def test_refused_changes_are_one_line_with_exit_status_2(
    hot: HotStore, capsys: pytest.CaptureFixture[str]
) -> None:
    iid = one_incident(hot, "198.51.100.21")
    status, _, err = run(capsys, "incident", "resolve", iid, "--actor", "alice")
    assert status == 2
    assert err == (
        "soc-platform: error: resolving needs a disposition: true_positive or benign "
        "(--disposition)\n"
    )
    status, _, err = run(capsys, "incident", "status", "closed", iid, "--actor", "alice")
    assert status == 2 and err.startswith("soc-platform: error: unknown status 'closed'")
    status, _, err = run(capsys, "incident", "show", "inc-nope")
    assert (status, err) == (
        2,
        "soc-platform: error: no incident 'inc-nope' (soc-platform incidents lists them)\n",
    )
    # and as a real process: one line on stderr, exit status 2
    proc = subprocess.run(
        [sys.executable, "-m", "soc_platform.cli", "incident", "ack", "inc-nope"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("soc-platform: error: no incident 'inc-nope'")


def test_incidents_filters(hot: HotStore, capsys: pytest.CaptureFixture[str]) -> None:
    a = one_incident(hot, "198.51.100.30")
    b = one_incident(hot, "203.0.113.5", NOON + timedelta(hours=1))
    run_json(capsys, "incident", "status", "false_positive", b, "--actor", "alice")

    def ids(*flags: str) -> set[str]:
        return {i["id"] for i in run_json(capsys, "incidents", *flags)}

    assert ids() == {a, b}
    assert ids("--status", "open") == {a}
    assert ids("--status", "closed") == {b}
    assert ids("--ip", "198.51.100.0/24") == {a}
    assert ids("--ip", "203.0.113.5") == {b}
    assert ids("--rule", "waf-sqli-burst", "--severity", ">=low") == {a, b}
    assert ids("--rule", "waf-login-brute-force") == set()
    assert ids("--since", "2026-03-10") == {a, b}
    assert ids("--since", "1d") == set()  # the incidents are of March 2026
    status, _, err = run(capsys, "incidents", "--ip", "not-an-ip")
    assert status == 2 and "--ip 'not-an-ip'" in err


def test_rules_stats(hot: HotStore, capsys: pytest.CaptureFixture[str]) -> None:
    a = one_incident(hot, "198.51.100.40")
    b = one_incident(hot, "198.51.100.41")
    one_incident(hot, "198.51.100.42")
    run_json(capsys, "incident", "status", "false_positive", a, "--actor", "alice")
    run_json(capsys, "incident", "resolve", b, "--disposition", "true_positive", "--actor", "al")
    [stats] = run_json(capsys, "rules", "stats")
    assert stats == {
        "rule": "waf-sqli-burst",
        "incidents": 3,
        "closed": 2,
        "true_positive": 1,
        "false_positive": 1,
        "benign": 0,
        "fp_ratio": 0.5,
        "noisy": False,  # 2 closed: fewer than SOC_NOISY_RULE_MIN_CLOSED (10)
    }


def test_show_a_superseded_incident_points_at_its_successor(
    hot: HotStore, capsys: pytest.CaptureFixture[str]
) -> None:
    from soc_platform.correlation.detection import default_detection
    from soc_platform.incidents import engine
    from tests.helpers import sqli_burst
    from tests.integration.test_incident_lifecycle import load, times

    sqli = default_detection().only("waf-sqli-burst")
    start = NOON.replace(minute=20)
    campaign = sqli_burst(start, "198.51.100.200", n=48, spacing_s=7.5)
    load(hot, campaign[30:])
    [first] = engine.correlate(hot, times(campaign[30:]), sqli, now=start).incidents
    run_json(capsys, "incident", "note", "seen", first.id, "--actor", "alice")
    load(hot, campaign[:30])
    [second] = engine.correlate(hot, times(campaign[:30]), sqli, now=start).incidents
    gone = run_json(capsys, "incident", "show", first.id)
    assert gone["incident"] is None and gone["superseded_by"] == second.id
    status, out, _ = run(capsys, "incident", "show", second.id)
    assert status == 0 and "note: seen" in out and f"[{first.id}]" in out
