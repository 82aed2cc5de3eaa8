"""The hot store: PostgreSQL (plain, day-partitioned) or TimescaleDB (hypertable).

The dialect is detected once per store (``setup``); every query that reads the hot store
is the same for both.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

import psycopg
import pyarrow as pa
from psycopg import sql as pgsql
from psycopg.copy import QueuedLibpqWriter
from psycopg.rows import dict_row

from soc_platform import sql
from soc_platform.errors import HotStoreError
from soc_platform.models import EVENT_SCHEMA, Incident
from soc_platform.stores.arrow_copy import to_copy_csv

COPY_SLICE_ROWS = 50_000


class Dialect(StrEnum):
    PLAIN = "plain"
    TIMESCALE = "timescale"


@dataclass(frozen=True)
class UpsertResult:
    changed: int  # incidents inserted or updated
    superseded: list[str]  # ids deleted because a merged incident replaces them


@dataclass(frozen=True)
class LoadResult:
    inserted: int
    duplicates: int


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, UTC)


class HotStore:
    """Typed access to the hot tables and the incidents table."""

    def __init__(self, dsn: str, connect_timeout: int = 10) -> None:
        self.dsn = dsn
        self.connect_timeout = connect_timeout
        self._dialect: Dialect | None = None

    @contextmanager
    def connect(self, autocommit: bool = False) -> Iterator[psycopg.Connection[Any]]:
        try:
            conn = psycopg.connect(
                self.dsn,
                autocommit=autocommit,
                connect_timeout=self.connect_timeout,
                options="-c TimeZone=UTC",  # day buckets and returned times in UTC
            )
        except psycopg.OperationalError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            raise HotStoreError(
                f"cannot connect to the hot store PostgreSQL: {first} "
                "(check SOC_PG_DSN, or unset it to use the embedded server)"
            ) from exc
        try:
            with conn:
                yield conn
        finally:
            conn.close()

    # -- schema -------------------------------------------------------------------------

    def detect_dialect(self, conn: psycopg.Connection[Any]) -> Dialect:
        installed, available = conn.execute(sql.query("detect_timescaledb")).fetchone() or (
            False,
            False,
        )
        if not installed and available:
            try:
                conn.execute(sql.query("create_timescaledb"))
                installed = True
            except psycopg.Error:
                # Packaged but not preloaded (shared_preload_libraries): plain PostgreSQL.
                installed = False
        return Dialect.TIMESCALE if installed else Dialect.PLAIN

    def setup(self) -> Dialect:
        """Apply the idempotent DDL for the detected dialect. Safe to run any number of times."""
        with self.connect(autocommit=True) as conn:
            dialect = self.detect_dialect(conn)
            for label, statement in sql.schema_statements(dialect.value):
                try:
                    conn.execute(statement)
                except psycopg.Error as exc:
                    raise HotStoreError(f"schema step {label} failed: {exc}") from exc
        self._dialect = dialect
        return dialect

    @property
    def dialect(self) -> Dialect:
        if self._dialect is None:
            return self.setup()
        return self._dialect

    def ensure_day_partitions(self, days: Sequence[date]) -> None:
        """Create the native partitions of ``days`` (plain dialect; chunks are automatic).

        Each in its own short transaction: creating a partition locks the parent table, and
        that lock must not last as long as a load.
        """
        if self.dialect is not Dialect.PLAIN or not days:
            return
        with self.connect(autocommit=True) as conn:
            for day in sorted(set(days)):
                conn.execute(
                    sql.query("create_day_partition").format(
                        partition=pgsql.Identifier(f"waf_events_p{day:%Y%m%d}"),
                        lo=pgsql.Literal(day_start(day)),
                        hi=pgsql.Literal(day_start(day + timedelta(days=1))),
                    )
                )

    # -- loading --------------------------------------------------------------------------

    def load_events(self, events: pa.Table, days: Sequence[date]) -> LoadResult:
        """Insert events not present yet (idempotent on event_id), via COPY of Arrow data."""
        if events.num_rows == 0:
            return LoadResult(0, 0)
        self.ensure_day_partitions(days)
        with self.connect() as conn:
            inserted = self._copy_and_insert(conn, events)
        return LoadResult(inserted, events.num_rows - inserted)

    def replace_days(self, events: pa.Table, days: Sequence[date]) -> LoadResult:
        """Rewrite whole days from ``events`` in one transaction (reprocessing from the lake)."""
        self.ensure_day_partitions(days)
        with self.connect() as conn:
            for day in sorted(set(days)):
                conn.execute(
                    sql.query("delete_days"),
                    {"lo": day_start(day), "hi": day_start(day + timedelta(days=1))},
                )
            inserted = 0
            if events.num_rows:
                inserted = self._copy_and_insert(conn, events)
        return LoadResult(inserted, events.num_rows - inserted)

    def _copy_and_insert(self, conn: psycopg.Connection[Any], events: pa.Table) -> int:
        """Insert the rows of ``events`` that waf_events does not hold yet; return how many.

        Fast path: COPY straight into waf_events (a batch is normally all new). If any row is
        already there, the unique index stops the COPY at once; it is rolled back to a
        savepoint and the batch goes through a stage table and ``INSERT ... ON CONFLICT DO
        NOTHING`` instead.
        """
        columns = events.select(EVENT_SCHEMA.names)
        try:
            with conn.transaction():  # a savepoint inside the caller's transaction
                self._copy(conn, sql.query("copy_events"), columns)
            return int(columns.num_rows)
        except psycopg.errors.UniqueViolation:
            pass
        conn.execute(sql.query("create_stage"))
        self._copy(conn, sql.query("copy_stage"), columns)
        with conn.cursor() as cur:
            cur.execute(sql.query("insert_from_stage"))
            return int(cur.rowcount)

    @staticmethod
    def _copy(conn: psycopg.Connection[Any], statement: pgsql.SQL, rows: pa.Table) -> None:
        """COPY ``rows`` as CSV, rendered slice by slice while a writer thread sends the
        previous slice, so client rendering and server parsing overlap."""
        with conn.cursor() as cur:
            with cur.copy(statement, writer=QueuedLibpqWriter(cur)) as copy:
                for start in range(0, rows.num_rows, COPY_SLICE_ROWS):
                    copy.write(to_copy_csv(rows.slice(start, COPY_SLICE_ROWS)))

    def refresh_daily_summary(self, days: Sequence[date]) -> None:
        """Bring the daily summary up to date for exactly ``days``."""
        if not days:
            return
        starts = [day_start(d) for d in sorted(set(days))]
        if self.dialect is Dialect.TIMESCALE:
            # refresh_continuous_aggregate cannot run inside a transaction block.
            with self.connect(autocommit=True) as conn:
                for lo in starts:
                    conn.execute(
                        sql.query("refresh_daily_summary_cagg"),
                        {"lo": lo, "hi": lo + timedelta(days=1)},
                    )
            return
        with self.connect() as conn:
            conn.execute(sql.query("refresh_daily_summary_delete"), {"days": starts})
            conn.execute(sql.query("refresh_daily_summary_insert"), {"days": starts})

    def daily_summary(self, start: date, end: date) -> list[dict[str, Any]]:
        with self.connect() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                sql.query("daily_summary"),
                {"lo": day_start(start), "hi": day_start(end + timedelta(days=1))},
            )
            return list(cur.fetchall())

    def count_events(self, start: date, end: date) -> int:
        with self.connect() as conn:
            row = conn.execute(
                sql.query("count_events"),
                {"lo": day_start(start), "hi": day_start(end + timedelta(days=1))},
            ).fetchone()
        return int(row[0]) if row else 0

    # -- correlation and incidents ---------------------------------------------------------

    def run_query(self, name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Run the named query file and return its rows as dicts."""
        with self.connect() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(sql.query(name), params)
            return list(cur.fetchall())

    def upsert_incidents(
        self, incidents: Sequence[Incident], search_docs: Sequence[str]
    ) -> UpsertResult:
        """Insert or update incidents by id, and delete those they supersede (same rule and
        group, first window inside the incident's run), in one transaction."""
        if not incidents:
            return UpsertResult(0, [])
        params = [
            {
                "id": inc.id,
                "type": inc.type,
                "rule": inc.rule,
                "severity": inc.severity,
                "client_ip": inc.client_ip,
                "targets": list(inc.targets),
                "start_time": inc.start_time,
                "end_time": inc.end_time,
                "window_start": inc.window_start,
                "window_end": inc.window_end,
                "event_count": inc.event_count,
                "blocked_count": inc.blocked_count,
                "rule_ids": list(inc.rule_ids),
                "description": inc.description,
                "attack_techniques": list(inc.attack_techniques),
                "search_doc": doc,
            }
            for inc, doc in zip(incidents, search_docs, strict=True)
        ]
        with self.connect() as conn, conn.cursor() as cur:
            cur.execute(
                sql.query("supersede_incidents"),
                {
                    "rules": [i.rule for i in incidents],
                    "client_ips": [i.client_ip for i in incidents],
                    "window_starts": [i.window_start for i in incidents],
                    "window_ends": [i.window_end for i in incidents],
                    "ids": [i.id for i in incidents],
                },
            )
            superseded = sorted({row[0] for row in cur.fetchall()})
            cur.executemany(sql.query("upsert_incident"), params, returning=False)
            changed = int(cur.rowcount)
            cur.execute(sql.query("add_incident_terms"), {"ids": [i.id for i in incidents]})
            return UpsertResult(changed, superseded)

    def list_incidents(
        self,
        *,
        ids: Sequence[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 100,
    ) -> list[Incident]:
        rows = self.run_query(
            "list_incidents",
            {
                "ids": list(ids) if ids is not None else None,
                "lo": start,
                "hi": end,
                "limit": limit,
            },
        )
        return [incident_from_row(r) for r in rows]

    def search_incidents(
        self,
        terms: Sequence[str],
        *,
        type_: str | None = None,
        client_ip: str | None = None,
        limit: int = 20,
    ) -> list[Incident]:
        params = {"terms": list(terms), "type": type_, "client_ip": client_ip, "limit": limit}
        return [incident_from_row(r) for r in self.run_query("search_incidents", params)]


def incident_from_row(row: dict[str, Any]) -> Incident:
    return Incident(
        id=row["id"],
        type=row["type"],
        rule=row["rule"],
        severity=row["severity"],
        client_ip=row["client_ip"],
        targets=list(row["targets"]),
        start_time=row["start_time"],
        end_time=row["end_time"],
        window_start=row["window_start"],
        window_end=row["window_end"],
        event_count=int(row["event_count"]),
        blocked_count=int(row["blocked_count"]),
        rule_ids=list(row["rule_ids"]),
        description=row["description"],
        attack_techniques=list(row["attack_techniques"]),
        updated_at=row.get("updated_at"),
    )
