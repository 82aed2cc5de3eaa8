"""The search backlog (README "Search"): what the search backend still needs, kept in
PostgreSQL beside the incidents, so that the incidents table stays the system of record
and an unreachable Meilisearch never loses an update nor fails a run.

- ``incidents.search_queue.enqueue`` runs in the transaction that changes incidents (the
  correlation engine's write, ``lifecycle.apply_change``): the queue commits or rolls back
  with the change.
- :func:`drain` sends the queue to the backend in bulk (ids -> rows -> documents) and deletes
  an entry only after the backend's task succeeded; an entry queued again meanwhile (a newer
  ``seq``) stays. A crash between the two sends again: the upsert by id is idempotent.
- :func:`plan_drain` (pure) decides upsert or delete from what the incidents table holds
  now, not from the queued operation: an incident deleted after it was queued for an upsert
  is deleted from the index, one stored again after a delete was queued is upserted.

The embedded backend's index is the incidents table itself: the engine queues all the same
(the write path does not depend on the configured backend) and its drain drops the entries.
"""

from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.rows import dict_row

from soc_platform import faults, sql
from soc_platform.errors import SearchBackendError

if TYPE_CHECKING:
    from soc_platform.hot.store import HotStore
    from soc_platform.models import Incident
    from soc_platform.search.backends import SearchBackend

#: incidents sent to the backend per request (and read from the table per statement)
BATCH = 5000


@dataclass(frozen=True)
class Entry:
    """One row of ``search_backlog``."""

    incident_id: str
    op: str
    seq: int


@dataclass(frozen=True)
class DrainPlan:
    """What one drain batch sends: documents to upsert, ids to delete."""

    upserts: list[str]
    deletes: list[str]


@dataclass(frozen=True)
class Summary:
    """The backlog at a glance (the ``search_backlog_empty`` check, run summaries)."""

    pending: int
    deletes: int
    oldest: datetime | None
    now: datetime
    upto: int  # the newest seq

    @property
    def oldest_age_s(self) -> float:
        return (self.now - self.oldest).total_seconds() if self.oldest else 0.0


@dataclass
class DrainReport:
    backend: str
    upserted: int = 0
    deleted: int = 0
    cleared: int = 0  # embedded backend: entries dropped (its index is the table)
    pending: int = 0  # left in the backlog
    error: str = ""  # why the backend could not take them (one line, redacted)


def summary(conn: psycopg.Connection[Any]) -> Summary:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql.query("search_backlog_summary"))
        row = cur.fetchone()
    assert row is not None  # an aggregate always returns a row
    return Summary(
        int(row["pending"]), int(row["deletes"]), row["oldest"], row["now"], int(row["upto"])
    )


def plan_drain(entries: Sequence[Entry], stored: Collection[str]) -> DrainPlan:
    """Upsert the entries whose incident is stored (``stored``: those ids the incidents
    table holds now), delete the others, whatever operation was queued."""
    ids = list(dict.fromkeys(e.incident_id for e in entries))
    return DrainPlan(
        upserts=[i for i in ids if i in stored],
        deletes=[i for i in ids if i not in stored],
    )


def _batch(
    conn: psycopg.Connection[Any], upto: int, ids: Sequence[str] | None, limit: int
) -> list[Entry]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            sql.query("search_backlog_batch"),
            {"upto": upto, "ids": list(ids) if ids is not None else None, "limit": limit},
        )
        return [Entry(r["incident_id"], r["op"], int(r["seq"])) for r in cur.fetchall()]


def _remove(conn: psycopg.Connection[Any], entries: Sequence[Entry]) -> None:
    with conn.cursor() as cur:
        cur.execute(
            sql.query("drain_search_backlog"),
            {"ids": [e.incident_id for e in entries], "seqs": [e.seq for e in entries]},
        )


Connect = Callable[[], AbstractContextManager[psycopg.Connection[Any]]]
ListIncidents = Callable[[Sequence[str]], "list[Incident]"]


@contextmanager
def _drain_lock(connect: Connect, wait: bool) -> Iterator[bool]:
    """Hold the backlog's session lock (lock_search_backlog.sql) on a connection of its own;
    yields whether it was taken (``wait=False``: not when another drain holds it)."""
    with connect() as conn:
        row = conn.execute(
            sql.query("lock_search_backlog" if wait else "try_lock_search_backlog")
        ).fetchone()
        conn.commit()  # a session lock: no transaction is held open while the drain runs
        taken = wait or bool(row and row[0])
        try:
            yield taken
        finally:
            if taken:
                conn.execute(sql.query("unlock_search_backlog"))
                conn.commit()


def drain(
    connect: Connect,
    list_incidents: ListIncidents,
    backend: "SearchBackend",
    *,
    ids: Sequence[str] | None = None,
    batch: int = BATCH,
    wait: bool = True,
) -> DrainReport:
    """Send the backlog (``ids``: only those incidents' entries) to ``backend``, oldest
    first, in batches, up to the entries queued when the drain began. One drain at a time
    (two sending the same incident could land the older document last, the queue empty):
    ``wait=False`` returns at once, sending nothing, when another drain runs. Raises the
    backend's :class:`~soc_platform.errors.SearchBackendError` with the entries of the failed
    batch (and after) still queued."""
    with _drain_lock(connect, wait) as taken:
        if not taken:
            return DrainReport(backend.name)
        return _drain(connect, list_incidents, backend, ids=ids, batch=batch)


def _drain(
    connect: Connect,
    list_incidents: ListIncidents,
    backend: "SearchBackend",
    *,
    ids: Sequence[str] | None,
    batch: int,
) -> DrainReport:
    report = DrainReport(backend.name)
    with connect() as conn:
        before = summary(conn)
    upto = before.upto
    if not backend.stores_documents:  # embedded: the table is the index
        if before.pending:
            faults.check("index_partial")  # the backlog read, its entries not yet dropped
        with connect() as conn, conn.cursor() as cur:
            cur.execute(
                sql.query("clear_search_backlog"),
                {"upto": upto, "ids": list(ids) if ids is not None else None},
            )
            report.cleared = cur.rowcount
        return report
    while True:
        with connect() as conn:
            entries = _batch(conn, upto, ids, batch)
        if not entries:
            break
        found = list_incidents([e.incident_id for e in entries])
        plan = plan_drain(entries, {i.id for i in found})
        # (the backend creates its index and applies its settings on its first write)
        if plan.deletes:
            report.deleted += backend.delete(plan.deletes)
        wanted = set(plan.upserts)
        docs = [i for i in found if i.id in wanted]
        report.upserted += backend.upsert(docs)
        faults.check("index_partial")  # the backend took them, the entries not yet removed
        with connect() as conn:  # the backend's tasks succeeded: those entries are done
            _remove(conn, entries)
        if len(entries) < batch:
            break
    return report


def drain_store(
    hot: "HotStore", search: "SearchBackend", ids: Sequence[str] | None = None, wait: bool = True
) -> DrainReport:
    """:func:`drain` over the hot store's database; the report counts what is left."""
    report = drain(
        hot.connect,
        lambda wanted: hot.list_incidents(ids=wanted, limit=len(wanted)),
        search,
        ids=ids,
        wait=wait,
    )
    with hot.connect() as conn:
        report.pending = summary(conn).pending
    return report


def catch_up(
    hot: "HotStore", search: "SearchBackend", ids: Sequence[str] | None = None, wait: bool = True
) -> DrainReport:
    """:func:`drain_store`, but a backend that cannot take the backlog is reported
    (``error``, ``pending``), not raised: the incidents are stored, the next drain sends
    them."""
    try:
        return drain_store(hot, search, ids, wait)
    except SearchBackendError as exc:
        report = DrainReport(search.name, error=str(exc))
    with hot.connect() as conn:
        report.pending = summary(conn).pending
    return report


def pending_line(report: DrainReport) -> str:
    """The one line that says the search backend is behind, why, and what catches up."""
    return (
        f"search indexing pending: {report.pending} incidents ({report.error}); the next run "
        "or `soc-platform search reindex` catches up"
    )


def index_change(hot: "HotStore", search: "SearchBackend", incident_id: str) -> str:
    """After an analyst's change committed (CLI ``incident ...``, the UI's change action):
    that incident's entry sent now, best effort. Returns the pending line when the backend
    could not take it (the change stays committed, the backlog keeps it), else "". While
    another drain runs, the entry stays queued for the next one (no waiting here)."""
    report = catch_up(hot, search, [incident_id], wait=False)
    return pending_line(report) if report.error else ""
