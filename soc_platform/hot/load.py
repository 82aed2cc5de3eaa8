"""Loading the hot store: events COPY'd in bulk (idempotent on event id), whole days
rewritten atomically from the lake, and the aggregate buckets they touched refreshed."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from time import perf_counter
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql as pgsql
from psycopg.copy import QueuedLibpqWriter

from soc_platform import faults, sql
from soc_platform.days import day_range, day_start, event_days
from soc_platform.hot import buckets
from soc_platform.hot.aggregates import Aggregates
from soc_platform.hot.arrow_copy import to_copy_csv
from soc_platform.hot.policy import Dialect
from soc_platform.lake.tables import first_per_key
from soc_platform.models import EVENT_SCHEMA

COPY_SLICE_ROWS = 50_000


@dataclass(frozen=True)
class LoadResult:
    inserted: int
    duplicates: int
    outside_retention: int = 0  # older than the hot retention: kept in the lake only
    refresh_seconds: float = 0.0


class Loading(Aggregates):
    """Event loads and day rewrites."""

    def retained(self, events: pa.Table, today: date | None = None) -> pa.Table:
        """The events young enough for the hot table (the rest stay in the lake only)."""
        first = self.policy.first_retained_day(today or datetime.now(UTC).date())
        if first is None or events.num_rows == 0:
            return events
        return events.filter(pc.greater_equal(events["event_time"], pa.scalar(day_start(first))))

    def load_events(self, events: pa.Table) -> LoadResult:
        """Insert the events not present yet (idempotent on event_id) and refresh the
        aggregate buckets they touched.

        One transaction holding the advisory locks of the events' days, so a concurrent
        rebuild of one of those days waits (or is waited for) instead of interleaving. Plain
        PostgreSQL refreshes the summary tables inside that transaction: readers see rows
        and aggregates change together. TimescaleDB refreshes right after the commit.
        """
        kept = self.retained(events)
        outside = events.num_rows - kept.num_rows
        kept = first_per_key(kept, "event_id")
        if kept.num_rows == 0:
            return LoadResult(0, events.num_rows - outside, outside)
        days = event_days(kept["event_time"])
        minutes = buckets.to_ranges(buckets.touched_minutes(kept["event_time"]), buckets.MINUTE)
        self.ensure_day_partitions(days)
        with self.connect() as conn:
            self._lock_days(conn, days)
            inserted = self._copy_and_insert(conn, kept)
            started = perf_counter()
            if inserted and self.dialect is Dialect.PLAIN:
                self._refresh_tables(conn, minutes, prune=False)
        if self.dialect is Dialect.TIMESCALE:
            # even when nothing was new: a retried run must complete a refresh that its
            # failed attempt (committed rows, then died) never made
            started = perf_counter()
            self._refresh_caggs(minutes)
        took = perf_counter() - started if inserted or self.dialect is Dialect.TIMESCALE else 0.0
        return LoadResult(inserted, events.num_rows - outside - inserted, outside, took)

    def replace_day(self, day: date, read_events: Callable[[], pa.Table]) -> LoadResult:
        """Rewrite one event day (rows and aggregates) from ``read_events()``, atomically.

        The day's advisory lock is taken *before* the events are read, so a micro-batch
        that loads the same day either commits first (and its events, already in the
        lake, are read here) or waits and then adds its events to the rebuilt day.
        Readers see the old day until the commit, then the new one: never a half-loaded
        day. On TimescaleDB the continuous aggregates follow right after the commit.
        """
        lo, hi = day_range(day)
        self.ensure_day_partitions([day])
        with self.connect() as conn:
            self._lock_days(conn, [day])
            events = first_per_key(read_events().select(EVENT_SCHEMA.names), "event_id")
            if self.dialect is Dialect.TIMESCALE:
                conn.execute(sql.query("allow_decompression"))
            conn.execute(sql.query("delete_days"), {"lo": lo, "hi": hi})
            inserted = self._copy_and_insert(conn, events) if events.num_rows else 0
            started = perf_counter()
            if self.dialect is Dialect.PLAIN:
                self._refresh_tables(conn, [(lo, hi)])
        if self.dialect is Dialect.TIMESCALE:
            started = perf_counter()
            self._refresh_caggs([(lo, hi)])
        return LoadResult(inserted, events.num_rows - inserted, 0, perf_counter() - started)

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
                    if not start:
                        faults.check("hot_copy_slice")  # a slice sent, nothing committed
