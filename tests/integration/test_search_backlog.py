"""The search backlog against a real PostgreSQL (README "Search"): incident writes queue what
the search backend still needs in their own transaction; a drain to an unreachable
Meilisearch (a closed port: a real connection refused) keeps every entry; the embedded
backend's drain empties it; analyst notes are searchable in the embedded backend."""

import os
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from soc_platform import sql
from soc_platform.correlation.detection import default_detection
from soc_platform.flow import checks, steps
from soc_platform.hot.embedded import free_port
from soc_platform.hot.store import HotPolicy, HotStore
from soc_platform.incidents import engine, search_queue
from soc_platform.incidents.lifecycle import Change, apply_change
from soc_platform.search import backlog
from soc_platform.search.backends import EmbeddedSearch, MeilisearchSearch
from tests.helpers import load_events as load
from tests.helpers import sqli_burst

DAY = date(2026, 3, 10)
NOON = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
SQLI = default_detection().only("waf-sqli-burst")
MEILI_URL = os.environ.get("SOC_TEST_MEILI_URL")


@pytest.fixture
def hot(pg_dsn: str) -> HotStore:
    store = HotStore(pg_dsn, policy=HotPolicy(retention_days=0))  # fixed past dates
    store.setup()
    return store


def queued(dsn: str) -> list[tuple[str, str]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT incident_id, op FROM search_backlog ORDER BY 1").fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


def closed_meilisearch() -> MeilisearchSearch:
    """A Meilisearch backend whose port nothing listens on."""
    return MeilisearchSearch(f"http://127.0.0.1:{free_port()}", None, timeout_ms=2000)


def test_engine_writes_queue_upserts_and_the_incidents_they_retire(
    hot: HotStore, pg_dsn: str
) -> None:
    load(hot, sqli_burst(NOON, "198.51.100.7", n=12))
    load(hot, sqli_burst(NOON, "198.51.100.8", n=12))
    report = engine.correlate_days(hot, [DAY], SQLI)
    ids = sorted(i.id for i in report.incidents)
    assert len(ids) == 2
    assert queued(pg_dsn) == [(i, "upsert") for i in ids]
    # the stored row carries what the Meilisearch document needs
    stored = {i.id: i for i in hot.list_incidents(ids=ids)}
    assert all(s.user_agents == ["pytest"] and s.paths == ["/products"] for s in stored.values())

    # the embedded backend's index is the table: its drain empties the backlog
    drained = steps.index_incidents(hot, EmbeddedSearch(hot))
    assert (drained.cleared, drained.pending, drained.error) == (2, 0, "")
    assert queued(pg_dsn) == []

    # one source's events are gone: re-evaluating the day retires its incident, queued as a
    # delete; the other is queued again as an upsert
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("DELETE FROM waf_events WHERE client_ip = '198.51.100.8'")
    again = engine.correlate_days(hot, [DAY], SQLI)
    [kept] = [i.id for i in again.incidents]
    [gone] = [i for i in ids if i != kept]
    assert again.superseded == [gone]
    assert queued(pg_dsn) == sorted([(kept, "upsert"), (gone, "delete")])


def test_an_analyst_change_is_queued_with_its_transaction(hot: HotStore, pg_dsn: str) -> None:
    load(hot, sqli_burst(NOON, "198.51.100.7", n=12))
    [inc] = engine.correlate_days(hot, [DAY], SQLI).incidents
    steps.index_incidents(hot, EmbeddedSearch(hot))
    assert queued(pg_dsn) == []
    with psycopg.connect(pg_dsn) as conn:  # rolled back: nothing queued
        apply_change(conn, inc.id, Change(status="acknowledged"), actor="alice")
        conn.rollback()
    assert queued(pg_dsn) == []
    with psycopg.connect(pg_dsn) as conn:
        apply_change(conn, inc.id, Change(status="acknowledged"), actor="alice")
    assert queued(pg_dsn) == [(inc.id, "upsert")]


def test_meilisearch_down_keeps_the_backlog_and_the_check_warns(hot: HotStore, pg_dsn: str) -> None:
    load(hot, sqli_burst(NOON, "198.51.100.7", n=12))
    [inc] = engine.correlate_days(hot, [DAY], SQLI).incidents
    with psycopg.connect(pg_dsn) as conn:
        search_queue.enqueue(conn, deletes=["gone-1"])
    backend = closed_meilisearch()
    report = steps.index_incidents(hot, backend)
    assert report.pending == 2 and (report.upserted, report.deleted) == (0, 0)
    assert report.error == f"Meilisearch at {backend.where} unreachable (connection refused)"
    assert steps.pending_line(report) == (
        f"search indexing pending: 2 incidents (Meilisearch at {backend.where} unreachable "
        "(connection refused)); the next run or `soc-platform search reindex` catches up"
    )
    assert queued(pg_dsn) == sorted([(inc.id, "upsert"), ("gone-1", "delete")])
    # an analyst's change still commits; its best-effort send says it is pending
    with psycopg.connect(pg_dsn) as conn:
        apply_change(conn, inc.id, Change(note="looked at it"), actor="alice")
    line = backlog.index_change(hot, backend, inc.id)
    assert line.startswith("search indexing pending: 2 incidents (Meilisearch at ")
    assert queued(pg_dsn) == sorted([(inc.id, "upsert"), ("gone-1", "delete")])

    outcome = checks.search_backlog_check(hot)
    assert not outcome.passed
    assert outcome.description.startswith("2 incident(s) wait for the search backend, the oldest")
    assert outcome.metadata["pending"] == 2 and outcome.metadata["pending_deletes"] == 1
    assert outcome.metadata["oldest_age_s"] >= 0

    steps.index_incidents(hot, EmbeddedSearch(hot))
    assert checks.search_backlog_check(hot).passed


def test_a_drained_entry_queued_again_meanwhile_stays(hot: HotStore, pg_dsn: str) -> None:
    """The drain deletes the entries it sent, not one an incident write queued again while
    the backend was working (its seq is newer)."""
    with psycopg.connect(pg_dsn) as conn:
        search_queue.enqueue(conn, upserts=["a", "b"])
    with hot.connect() as conn:
        sent = backlog._batch(conn, backlog.summary(conn).upto, None, 10)
    assert [e.incident_id for e in sent] == ["a", "b"]
    with psycopg.connect(pg_dsn) as conn:
        search_queue.enqueue(conn, deletes=["b"])  # b changed again meanwhile
    with hot.connect() as conn:
        backlog._remove(conn, sent)
    assert queued(pg_dsn) == [("b", "delete")]


def test_a_note_is_found_by_the_embedded_search_with_a_typo_too(hot: HotStore, pg_dsn: str) -> None:
    load(hot, sqli_burst(NOON, "198.51.100.7", n=12))
    load(hot, sqli_burst(NOON, "198.51.100.9", n=12))
    incidents = engine.correlate_days(hot, [DAY], SQLI).incidents
    target = next(i for i in incidents if i.client_ip == "198.51.100.7")
    search = EmbeddedSearch(hot)
    assert search.search("vendor portal") == []
    with psycopg.connect(pg_dsn) as conn:
        apply_change(conn, target.id, Change(note="phished via vendor portal"), actor="alice")
    assert [h.id for h in search.search("vendor portal")] == [target.id]
    assert [h.id for h in search.search("vendr portal")] == [target.id]  # a typo
    # the engine's next write of the incident keeps the note in its search text
    load(hot, sqli_burst(NOON + timedelta(minutes=1), "198.51.100.7", n=12))
    engine.correlate_days(hot, [DAY], SQLI)
    assert [h.id for h in search.search("vendor portal")] == [target.id]


@pytest.mark.skipif(
    not MEILI_URL, reason="SOC_TEST_MEILI_URL is not set: no Meilisearch server on this machine"
)
def test_the_backlog_drains_into_meilisearch(hot: HotStore, pg_dsn: str) -> None:
    assert MEILI_URL
    backend = MeilisearchSearch(MEILI_URL, os.environ.get("SOC_TEST_MEILI_KEY"))
    backend.ensure_index()
    backend.prune(NOON - timedelta(days=1), NOON + timedelta(days=1), keep=[])
    load(hot, sqli_burst(NOON, "198.51.100.7", n=12))
    load(hot, sqli_burst(NOON, "198.51.100.8", n=12))
    ids = sorted(i.id for i in engine.correlate_days(hot, [DAY], SQLI).incidents)
    with psycopg.connect(pg_dsn) as conn:
        apply_change(conn, ids[0], Change(note="phished via vendor portal"), actor="alice")
    report = steps.index_incidents(hot, backend)
    assert (report.upserted, report.pending, report.error) == (2, 0, "")
    assert queued(pg_dsn) == []
    assert [h.id for h in backend.search("vendor portal")] == [ids[0]]
    assert {h.id for h in backend.search("pytest")} == set(ids)  # the user agent
    # an incident retired from the table is deleted from the index by the next drain
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("DELETE FROM waf_events WHERE client_ip = '198.51.100.8'")
    engine.correlate_days(hot, [DAY], SQLI)
    report = steps.index_incidents(hot, backend)
    assert report.deleted == 1 and queued(pg_dsn) == []
    assert {h.id for h in backend.search("pytest")} == {i.id for i in hot.list_incidents(ids=ids)}


def test_one_drain_at_a_time(hot: HotStore, pg_dsn: str) -> None:
    """Two drains sending the same incident could land the older document last with the
    queue already empty: a drain holds the backlog's lock; an analyst's best-effort send
    does not wait for it and leaves its entry for the next drain."""
    load(hot, sqli_burst(NOON, "198.51.100.7", n=12))
    [inc] = engine.correlate_days(hot, [DAY], SQLI).incidents
    assert queued(pg_dsn) == [(inc.id, "upsert")]
    with psycopg.connect(pg_dsn, autocommit=True) as running:  # a drain in progress
        running.execute(sql.query("lock_search_backlog"))
        assert backlog.index_change(hot, EmbeddedSearch(hot), inc.id) == ""
        assert queued(pg_dsn) == [(inc.id, "upsert")]  # left for the next drain
        with psycopg.connect(pg_dsn, autocommit=True) as other:
            other.execute("SET lock_timeout = '1s'")
            with pytest.raises(psycopg.errors.LockNotAvailable):  # a second drain waits
                other.execute(sql.query("lock_search_backlog"))
        running.execute(sql.query("unlock_search_backlog"))
    assert backlog.index_change(hot, EmbeddedSearch(hot), inc.id) == ""
    assert queued(pg_dsn) == []
