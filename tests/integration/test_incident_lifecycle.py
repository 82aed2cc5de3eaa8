"""The incident lifecycle against a real PostgreSQL: analyst changes and their audit rows,
the append-only audit table."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest

from soc_platform.correlation.config import parse_detection_config
from soc_platform.correlation.detection import Detection, builtin_rules_dir, default_detection
from soc_platform.correlation.incidents import Context
from soc_platform.correlation.ruleset import load_rule_set
from soc_platform.flow import rules as rulework
from soc_platform.hot.store import HotPolicy, HotStore
from soc_platform.incidents import engine
from soc_platform.incidents.lifecycle import (
    Change,
    LifecycleError,
    apply_change,
    audit_trail,
    get_incident,
)
from soc_platform.parsing import get_parser, split_lines
from tests.helpers import load_events as load
from tests.helpers import sqli_burst, to_jsonl

DAY = date(2026, 3, 10)
NOON = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
SQLI = default_detection().only("waf-sqli-burst")


@pytest.fixture
def hot(pg_dsn: str) -> HotStore:
    store = HotStore(pg_dsn, policy=HotPolicy(retention_days=0))  # fixed past dates
    store.setup()
    return store


def one_incident(hot: HotStore, ip: str = "198.51.100.7", at: datetime = NOON) -> str:
    load(hot, sqli_burst(at, ip, n=12))
    report = engine.correlate_days(hot, [at.date()], SQLI)
    [inc] = [i for i in report.incidents if i.client_ip == ip and i.start_time == at]
    return inc.id


def change(dsn: str, incident_id: str, ch: Change, actor: str = "alice") -> list[Any]:
    with psycopg.connect(dsn) as conn:
        return apply_change(conn, incident_id, ch, actor=actor)


def trail(dsn: str, incident_id: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return [
            (e.actor, e.action, e.field, e.old, e.new, e.comment)
            for e in audit_trail(conn, incident_id)
        ]


def row(dsn: str, incident_id: str) -> dict[str, Any]:
    with psycopg.connect(dsn) as conn:
        found = get_incident(conn, incident_id)
    assert found is not None
    return found


def test_an_analyst_works_an_incident_and_every_change_is_audited(hot: HotStore) -> None:
    iid = one_incident(hot)
    dsn = hot.dsn
    change(dsn, iid, Change(status="acknowledged", assignee="alice"))
    change(dsn, iid, Change(note="sqlmap from a VPS, blocking upstream"), actor="bob")
    change(dsn, iid, Change(status="resolved", disposition="true_positive"), actor="bob")
    got = row(dsn, iid)
    assert (got["status"], got["assignee"], got["disposition"]) == (
        "resolved",
        "alice",
        "true_positive",
    )
    assert got["notes"] == ["sqlmap from a VPS, blocking upstream"]
    assert got["closed_at"] is not None and got["status_by"] == "bob"
    assert [t for t in trail(dsn, iid) if t[1] != "created"] == [
        ("alice", "status", "status", "open", "acknowledged", None),
        ("alice", "assign", "assignee", None, "alice", None),
        ("bob", "note", None, None, None, "sqlmap from a VPS, blocking upstream"),
        ("bob", "status", "status", "acknowledged", "resolved", None),
        ("bob", "disposition", "disposition", None, "true_positive", None),
    ]
    # reopened by an analyst: no longer closed, the disposition goes
    change(dsn, iid, Change(status="open"), actor="carol")
    got = row(dsn, iid)
    assert (got["status"], got["disposition"], got["closed_at"], got["reopened_count"]) == (
        "open",
        None,
        None,
        1,
    )
    assert trail(dsn, iid)[-2:] == [
        ("carol", "reopened", "status", "resolved", "open", None),
        ("carol", "disposition", "disposition", "true_positive", None, None),
    ]


def test_refused_changes_change_nothing(hot: HotStore) -> None:
    iid = one_incident(hot)
    dsn = hot.dsn
    with pytest.raises(LifecycleError, match="no incident 'nope'"):
        change(dsn, "nope", Change(status="acknowledged"))
    with pytest.raises(LifecycleError, match="unknown status 'closed'"):
        change(dsn, iid, Change(status="closed"))
    with pytest.raises(LifecycleError, match="resolving needs a disposition"):
        change(dsn, iid, Change(status="resolved"))
    change(dsn, iid, Change(status="false_positive"))
    assert row(dsn, iid)["disposition"] == "false_positive"
    with pytest.raises(LifecycleError, match="cannot go from false_positive to in_progress"):
        change(dsn, iid, Change(status="in_progress"))
    assert row(dsn, iid)["status"] == "false_positive"


def test_the_audit_table_refuses_update_and_delete(hot: HotStore) -> None:
    iid = one_incident(hot)
    change(hot.dsn, iid, Change(note="first look"))
    for statement in (
        "UPDATE incident_audit SET comment = 'rewritten'",
        "DELETE FROM incident_audit",
        "TRUNCATE incident_audit",
    ):
        with (
            psycopg.connect(hot.dsn) as conn,
            pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"),
        ):
            conn.execute(statement)  # type: ignore[arg-type]
    assert ("alice", "note", None, None, None, "first look") in trail(hot.dsn, iid)


# -- analyst state is never lost ---------------------------------------------------------------


def test_a_backfill_of_the_day_keeps_a_status_set_by_hand(hot: HotStore) -> None:
    """The issue's observed bug: a status set by hand was reset to open by the next
    backfill of that day."""
    iid = one_incident(hot)
    change(hot.dsn, iid, Change(status="in_progress", assignee="alice", note="on it"))
    engine.correlate_days(hot, [DAY], SQLI)
    got = row(hot.dsn, iid)
    assert (got["status"], got["assignee"], got["notes"]) == ("in_progress", "alice", ["on it"])


def times(events: list[dict[str, Any]]) -> Any:
    block = split_lines(to_jsonl(events).encode())
    return get_parser("waf_json")(block, "test.jsonl", datetime.now(UTC)).events["event_time"]


def test_re_evaluating_windows_keeps_analyst_state(hot: HotStore) -> None:
    burst = sqli_burst(NOON, "198.51.100.8", n=12)
    load(hot, burst)
    [inc] = engine.correlate(hot, times(burst), SQLI, now=NOON + timedelta(minutes=10)).incidents
    change(hot.dsn, inc.id, Change(status="acknowledged", assignee="alice", note="looking"))
    again = engine.correlate(hot, times(burst), SQLI, now=NOON + timedelta(minutes=10))
    assert again.changed == 0  # nothing rewritten
    # what the micro-batch indexes carries the analyst's status, not the rules' "open"
    assert [i.status for i in again.incidents] == ["acknowledged"]
    got = row(hot.dsn, inc.id)
    assert (got["status"], got["assignee"], got["notes"]) == ("acknowledged", "alice", ["looking"])


def test_a_superseded_incident_hands_its_state_to_its_successor(hot: HotStore) -> None:
    """Late data makes a run start earlier: the incident gets a new id (its first window's).
    The successor keeps the analyst's status, assignee and notes; the audit says so, and
    the successor's trail shows the predecessor's rows."""
    start = NOON.replace(minute=20)
    campaign = sqli_burst(start, "198.51.100.200", n=48, spacing_s=7.5)
    early, late = campaign[:30], campaign[30:]
    load(hot, late)
    [first] = engine.correlate(hot, times(late), SQLI, now=start + timedelta(minutes=8)).incidents
    change(hot.dsn, first.id, Change(status="in_progress", assignee="alice", note="sqlmap"))
    load(hot, early)
    report = engine.correlate(hot, times(early), SQLI, now=start + timedelta(hours=1))
    [second] = report.incidents
    assert second.id != first.id and report.superseded == [first.id]
    got = row(hot.dsn, second.id)
    assert (got["status"], got["assignee"], got["notes"], got["status_by"]) == (
        "in_progress",
        "alice",
        ["sqlmap"],
        "alice",
    )
    history = trail(hot.dsn, second.id)
    assert ("alice", "note", None, None, None, "sqlmap") in history  # the predecessor's row
    inherited = [h for h in history if h[1] == "inherited"]
    assert [(h[0], h[3], h[4]) for h in inherited] == [("system", first.id, second.id)]
    assert ("system", "superseded", None, first.id, second.id, None) in trail(hot.dsn, first.id)
    # and a backfill of the day afterwards changes nothing of it
    engine.correlate_days(hot, [DAY], SQLI)
    assert row(hot.dsn, second.id)["status"] == "in_progress"


def test_a_retro_hunt_leaves_live_incidents_and_their_state_alone(hot: HotStore) -> None:
    iid = one_incident(hot)
    change(hot.dsn, iid, Change(status="false_positive", note="pentest"))
    before = row(hot.dsn, iid)
    report = rulework.retro_hunt(hot, [DAY], SQLI)
    assert report.counts() == {"added": 0, "removed": 0, "changed": 0}
    assert row(hot.dsn, iid) == before
    engine.correlate_days(hot, [DAY], SQLI)  # the live backfill after the hunt
    assert row(hot.dsn, iid) == before


def test_an_incident_that_goes_on_after_it_was_resolved_is_reopened(hot: HotStore) -> None:
    ip = "198.51.100.9"
    iid = one_incident(hot, ip)
    change(hot.dsn, iid, Change(status="resolved", disposition="true_positive", assignee="bob"))
    # the same run goes on (the next minute): same incident, events past its end
    more = sqli_burst(NOON + timedelta(seconds=60), ip, n=12)
    load(hot, more)
    engine.correlate(hot, times(more), SQLI, now=NOON + timedelta(minutes=10))
    got = row(hot.dsn, iid)
    assert (got["status"], got["disposition"], got["assignee"], got["reopened_count"]) == (
        "open",
        None,
        "bob",
        1,
    )
    assert [h[:5] for h in trail(hot.dsn, iid) if h[1] == "reopened"] == [
        ("system", "reopened", "status", "resolved", "open")
    ]


def test_a_new_firing_within_the_reopen_window_reopens_the_closed_incident(
    hot: HotStore,
) -> None:
    ip = "198.51.100.10"
    first = one_incident(hot, ip)
    change(hot.dsn, first, Change(status="false_positive"))
    second = one_incident(hot, ip, NOON + timedelta(hours=3))
    assert second != first
    old, new = row(hot.dsn, first), row(hot.dsn, second)
    assert (old["status"], old["reopened_count"], old["disposition"]) == ("open", 1, None)
    assert (new["status"], new["previous_incident"]) == ("open", first)
    assert ("system", "reopened", "status", "false_positive", "open") in [
        h[:5] for h in trail(hot.dsn, first)
    ]
    # re-evaluating does not reopen it a second time
    change(hot.dsn, first, Change(status="false_positive"))
    engine.correlate_days(hot, [DAY], SQLI)
    assert row(hot.dsn, first)["status"] == "false_positive"


def test_a_new_firing_after_the_reopen_window_is_a_new_linked_incident(pg_dsn: str) -> None:
    hot = HotStore(pg_dsn, policy=HotPolicy(retention_days=0, reopen_window=timedelta(hours=1)))
    hot.setup()
    ip = "198.51.100.11"
    first = one_incident(hot, ip)
    change(hot.dsn, first, Change(status="resolved", disposition="benign"))
    second = one_incident(hot, ip, NOON + timedelta(hours=3))
    old, new = row(hot.dsn, first), row(hot.dsn, second)
    assert (old["status"], old["disposition"]) == ("resolved", "benign")
    assert (new["status"], new["previous_incident"]) == ("open", first)
    assert not [h for h in trail(hot.dsn, first) if h[1] == "reopened"]


def test_the_engine_keeps_off_a_suppressed_incident_an_analyst_took_up(hot: HotStore) -> None:
    config = parse_detection_config(
        "allowlist:\n  - name: internal scanner\n    networks: [10.20.0.0/16]\n"
        "    rules: [waf-sqli-burst]\n"
    )
    allow = Detection(
        load_rule_set(builtin_rules_dir(), config).only(["waf-sqli-burst"]),
        Context(config, SQLI.context.assets),
    )
    load(hot, sqli_burst(NOON, "10.20.3.4", n=12))
    [inc] = engine.correlate_days(hot, [DAY], allow).incidents
    assert row(hot.dsn, inc.id)["status"] == "suppressed"
    # without the allow-list the engine's status is open: it changes it (audited)
    engine.correlate_days(hot, [DAY], SQLI)
    assert row(hot.dsn, inc.id)["status"] == "open"
    assert ("system", "status", "status", "suppressed", "open") in [
        h[:5] for h in trail(hot.dsn, inc.id)
    ]
    # once an analyst set it, the engine keeps off
    change(hot.dsn, inc.id, Change(status="in_progress"))
    engine.correlate_days(hot, [DAY], allow)
    assert row(hot.dsn, inc.id)["status"] == "in_progress"


def test_an_analyst_change_in_flight_is_not_overwritten_by_a_backfill(hot: HotStore) -> None:
    """The analyst's transaction holds the incident's row; the backfill waits for it, then
    reads the committed state and keeps it."""
    import threading
    import time

    iid = one_incident(hot)
    analyst = psycopg.connect(hot.dsn)
    try:
        apply_change(analyst, iid, Change(status="acknowledged"), actor="alice")  # not committed
        done = threading.Event()
        worker = threading.Thread(
            target=lambda: (engine.correlate_days(hot, [DAY], SQLI), done.set()), daemon=True
        )
        worker.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until the backfill waits for the row lock
            with psycopg.connect(hot.dsn) as probe:
                waiting = probe.execute(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock' AND datname = current_database()"
                ).fetchone()
            if waiting and waiting[0]:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the backfill never waited for the analyst's row")
        assert not done.is_set()
        analyst.commit()
        worker.join(60)
        assert done.is_set()
    finally:
        analyst.close()
    assert row(hot.dsn, iid)["status"] == "acknowledged"
