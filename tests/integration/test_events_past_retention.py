"""An incident older than the hot store's retention: its raw events come from the lake
(a real Iceberg catalog) on ``incident show --events`` and on the incident page (a real
uvicorn server), paged in the hot store's order; without a lake the page says so."""

import json
import re
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from soc_platform.cli import main
from soc_platform.correlation.detection import default_detection
from soc_platform.flow import steps
from soc_platform.hot.store import HotPolicy, HotStore
from soc_platform.incidents import engine
from soc_platform.lake.iceberg import Lake, LakeConfig
from soc_platform.lake.pages import event_page
from soc_platform.ui.accounts import Accounts
from tests.helpers import sqli_burst, to_jsonl
from tests.integration.test_ui import PASSWORD, Client, Server

AT = datetime(2026, 3, 10, 12, 0, 0, tzinfo=UTC)  # long past a 30-day retention
IP = "198.51.100.44"
RETENTION = 30


def ingest(lake: Lake, path: Path, events: list[dict[str, Any]]) -> Any:
    path.write_text(to_jsonl(events))
    report = steps.ingest_files(lake, [str(path)])
    assert report.dead_letters == 0
    return report.events


@pytest.fixture
def aged(pg_dsn: str, lake: Lake, work_dir: Path) -> tuple[HotStore, str, list[str]]:
    """One incident of 12 events whose day the hot store dropped (retention applied); the
    lake holds them, written by two ingests whose times interleave (two data files, so
    the page order is not the files' order), beside events the page must leave out."""
    burst = sqli_burst(AT, IP, n=12, spacing_s=10)
    other_ip = sqli_burst(AT + timedelta(seconds=3), "203.0.113.9", n=3, spacing_s=10)
    later = sqli_burst(AT + timedelta(hours=5), IP, n=2)  # the same source, outside the span
    first = ingest(lake, work_dir / "a.jsonl", burst[1::2] + other_ip)
    second = ingest(lake, work_dir / "b.jsonl", burst[0::2] + later)
    loader = HotStore(pg_dsn, policy=HotPolicy(retention_days=0))
    loader.setup()
    for events in (first, second):
        steps.load_hot(loader, events)
    report = engine.correlate_days(loader, [AT.date()], default_detection().only("waf-sqli-burst"))
    [inc] = [i for i in report.incidents if i.client_ip == IP and i.start_time == AT]
    hot = HotStore(pg_dsn, policy=HotPolicy(retention_days=RETENTION))
    hot.setup()
    dropped = hot.maintain()
    assert dropped.partitions_dropped  # the day is gone from the hot store
    assert hot.count_events(AT.date(), AT.date()) == 0
    expected = [e["timestamp"] for e in burst]
    return hot, inc.id, expected


def cli_env(monkeypatch: pytest.MonkeyPatch, pg_dsn: str, lake: Lake, work_dir: Path) -> None:
    monkeypatch.setenv("SOC_PG_DSN", pg_dsn)
    monkeypatch.setenv("SOC_DATA_DIR", str(work_dir / "data"))
    monkeypatch.setenv("SOC_HOT_RETENTION_DAYS", str(RETENTION))
    monkeypatch.setenv("SOC_LAKE_CATALOG_URI", lake.config.catalog_uri)
    monkeypatch.setenv("SOC_LAKE_WAREHOUSE", lake.config.warehouse)


def show(capsys: pytest.CaptureFixture[str], iid: str, *flags: str) -> dict[str, Any]:
    status = main(["incident", "show", iid, "--events", "--json", *flags])
    out, err = capsys.readouterr()
    assert status == 0, err
    doc: dict[str, Any] = json.loads(out)
    return doc


def test_incident_show_pages_events_past_retention_from_the_lake(
    aged: tuple[HotStore, str, list[str]],
    lake: Lake,
    pg_dsn: str,
    work_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, iid, expected = aged
    cli_env(monkeypatch, pg_dsn, lake, work_dir)

    pages = [show(capsys, iid, "--limit", "5", "--page", str(n))["events"] for n in (1, 2, 3, 4)]
    assert [len(p["rows"]) for p in pages] == [5, 5, 2, 0]
    assert [p["source"] for p in pages[:3]] == ["lake"] * 3
    assert pages[0]["note"] == f"from the raw lake: the hot store keeps {RETENTION} days"
    assert [p["more"] for p in pages] == [True, True, False, False]
    rows = [r for p in pages for r in p["rows"]]
    # the incident's 12 events, oldest first, each once: the other source and the same
    # source's later events stay out
    got = [datetime.fromisoformat(r["event_time"]) for r in rows]
    assert got == [datetime.fromisoformat(t.replace("Z", "+00:00")) for t in expected]
    assert {r["client_ip"] for r in rows} == {IP}
    assert len({r["event_id"] for r in rows}) == 12
    assert set(pages[0]["rows"][0]) == set(show_hot_shape(pg_dsn))  # the hot store's shape
    assert rows[0]["request_uri"] == "/products?id=0'+OR+'1'='1"

    status = main(["incident", "show", iid, "--events", "--limit", "5"])
    out, _ = capsys.readouterr()
    assert status == 0 and f"(from the raw lake: the hot store keeps {RETENTION} days)" in out
    assert out.count(IP) >= 5


def show_hot_shape(pg_dsn: str) -> list[str]:
    """The columns of the hot store's page of an incident's events (``incident_events``)."""
    from soc_platform import sql

    with HotStore(pg_dsn).connect() as conn, conn.cursor() as cur:
        cur.execute(
            sql.query("incident_events"),
            {"lo": AT, "hi": AT, "ips": [IP], "limit": 1, "offset": 0},
        )
        return [d.name for d in cur.description or []]


def test_lake_page_is_filtered_in_the_scan_and_stops_at_the_end(
    aged: tuple[HotStore, str, list[str]], lake: Lake
) -> None:
    span = (AT, AT + timedelta(seconds=110))
    cols = ("event_time", "client_ip")
    everyone = event_page(lake, *span, [], cols, limit=100)
    assert len(everyone) == 12 + 3  # no address given: every source in the span
    assert [r["event_time"] for r in everyone] == sorted(r["event_time"] for r in everyone)
    assert event_page(lake, *span, [IP], cols, limit=10, offset=12) == []
    last = event_page(lake, *span, [IP], cols, limit=10, offset=10)
    assert [r["event_time"] for r in last] == [AT + timedelta(seconds=100 + 10 * i) for i in (0, 1)]
    assert event_page(lake, *span, ["192.0.2.1"], cols, limit=10) == []


def test_incident_page_shows_events_past_retention_from_the_lake(
    aged: tuple[HotStore, str, list[str]], lake: Lake, work_dir: Path
) -> None:
    hot, iid, expected = aged
    Accounts(hot.connect).add("alice", "viewer", PASSWORD)
    with Server(hot, lake) as server:
        alice = Client(server.url)
        assert alice.login("alice", PASSWORD) == 303
        status, page, _ = alice.request(f"/incidents/{iid}")
        assert status == 200
        assert f"from the raw lake: the hot store keeps {RETENTION} days" in page
        times = re.findall(r"<tr><td>(\d\d:\d\d:\d\d)</td><td>" + re.escape(IP), page)
        assert times == [t[11:19] for t in expected]
        assert "/products?id=0&#39;+OR+&#39;1&#39;=&#39;1" in page
        assert 'href="?page=1"' not in page  # 12 events: one page
        status, page2, _ = alice.request(f"/incidents/{iid}?page=1")
        assert status == 200 and "no events on this page" in page2
        # a page number is bounded (a page reads the keys of every event before it)
        status, far, _ = alice.request(f"/incidents/{iid}?page=123456789012")
        assert status == 200 and 'href="?page=998"' in far
    with Server(hot) as server:  # no lake configured
        alice = Client(server.url)
        assert alice.login("alice", PASSWORD) == 303
        page = alice.request(f"/incidents/{iid}")[1]
        assert (
            f"not in the hot store (the hot store keeps {RETENTION} days) and no lake configured"
            in page
        )
        assert IP + "</td>" not in page.split("<h2>Events</h2>")[1].split("<h2>")[0]
    # a lake that cannot be read: the page says so in one line, the rest of it stands
    broken = Lake(LakeConfig(catalog_uri=f"sqlite:///{work_dir}", warehouse=lake.config.warehouse))
    with Server(hot, broken) as server:
        alice = Client(server.url)
        assert alice.login("alice", PASSWORD) == 303
        status, page, _ = alice.request(f"/incidents/{iid}")
        assert status == 200 and "the raw lake could not be read: cannot open the Iceberg" in page
        assert 'id="audit"' in page


def test_an_incident_across_the_retention_boundary_pages_every_event_from_the_lake(
    pg_dsn: str,
    lake: Lake,
    work_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Retention drops whole days: an incident across midnight into the oldest day kept
    has only its later events left in the hot store; the lake has them all."""
    first_kept = datetime.now(UTC).date() - timedelta(days=RETENTION)
    start = datetime.combine(first_kept, time(0), tzinfo=UTC) - timedelta(seconds=60)
    burst = sqli_burst(start, IP, n=12, spacing_s=10)  # 6 events before midnight, 6 after
    events = ingest(lake, work_dir / "c.jsonl", burst)
    loader = HotStore(pg_dsn, policy=HotPolicy(retention_days=0))
    loader.setup()
    steps.load_hot(loader, events)
    detection = default_detection().only("waf-sqli-burst")
    report = engine.correlate_days(loader, [start.date(), first_kept], detection)
    [inc] = [i for i in report.incidents if i.client_ip == IP]
    assert inc.start_time.date() < first_kept <= inc.end_time.date()
    hot = HotStore(pg_dsn, policy=HotPolicy(retention_days=RETENTION))
    hot.setup()
    hot.maintain()
    assert hot.count_events(start.date(), first_kept) == 6  # the later half only
    cli_env(monkeypatch, pg_dsn, lake, work_dir)

    page = show(capsys, inc.id, "--limit", "50")["events"]
    assert page["source"] == "lake" and len(page["rows"]) == 12
    got = [datetime.fromisoformat(r["event_time"]) for r in page["rows"]]
    assert got == [start + timedelta(seconds=10 * i) for i in range(12)]
