"""The incident lifecycle against a real PostgreSQL: analyst changes and their audit rows,
the append-only audit table."""

from datetime import UTC, date, datetime
from typing import Any

import psycopg
import pytest

from soc_platform.correlation.detection import default_detection
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
from tests.helpers import sqli_burst, to_jsonl

DAY = date(2026, 3, 10)
NOON = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
SQLI = default_detection().only("waf-sqli-burst")


@pytest.fixture
def hot(pg_dsn: str) -> HotStore:
    store = HotStore(pg_dsn, policy=HotPolicy(retention_days=0))  # fixed past dates
    store.setup()
    return store


def load(hot: HotStore, events: list[dict[str, Any]]) -> None:
    block = split_lines(to_jsonl(events).encode())
    result = get_parser("waf_json")(block, "test.jsonl", datetime.now(UTC))
    hot.load_events(result.events)


def one_incident(hot: HotStore, ip: str = "198.51.100.7", at: datetime = NOON) -> str:
    load(hot, sqli_burst(at, ip, n=12))
    report = engine.correlate_days(hot, [at.date()], SQLI)
    [inc] = [i for i in report.incidents if i.client_ip == ip]
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
