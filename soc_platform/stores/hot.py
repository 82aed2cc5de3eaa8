"""The hot store: PostgreSQL (plain, day-partitioned) or TimescaleDB (hypertable).

The dialect is detected once per store (``setup``); every query that reads the hot store
is the same for both.
"""

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from time import perf_counter
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql as pgsql
from psycopg.adapt import Buffer
from psycopg.copy import QueuedLibpqWriter
from psycopg.rows import dict_row
from psycopg.types.datetime import TimestamptzBinaryLoader, TimestamptzLoader
from psycopg.types.json import Jsonb

from soc_platform import buckets, faults, sql
from soc_platform.errors import HotStoreError
from soc_platform.models import EVENT_SCHEMA, Incident
from soc_platform.redact import redact_text, secrets_of
from soc_platform.settings import Settings
from soc_platform.stores.arrow_copy import to_copy_csv
from soc_platform.tables import first_per_key

COPY_SLICE_ROWS = 50_000


class Dialect(StrEnum):
    PLAIN = "plain"
    TIMESCALE = "timescale"


#: The aggregate levels, finest first: each is refreshed from the one before it.
AGGREGATES = ("waf_events_1m", "waf_events_1h", "waf_events_daily_summary")
#: By AS, country, rule and action (enrichment), from waf_events; kept like waf_events_1m.
GEO_1M = "waf_events_geo_1m"
_LEVEL_WIDTH = {
    **dict(zip(AGGREGATES, (buckets.MINUTE, buckets.HOUR, buckets.DAY), strict=True)),
    GEO_1M: buckets.MINUTE,
}
_LEVEL_TIME_COLUMN = {
    "waf_events_1m": "bucket",
    GEO_1M: "bucket",
    "waf_events_1h": "bucket",
    "waf_events_daily_ips": "day",  # plain dialect only
    "waf_events_daily_summary": "day",
}
#: TimescaleDB refresh calls per level and load at most (nearby ranges are merged).
MAX_CAGG_REFRESHES = 16
MIN_PG_VERSION = 150000  # NULLS NOT DISTINCT keys on the summary tables


@dataclass(frozen=True)
class HotPolicy:
    """Retention, compression and partitioning settings (see README "Configuration").

    A retention of 0 days keeps data forever.
    """

    retention_days: int = 90
    compress_after_days: int = 7
    agg_retention_days: tuple[tuple[str, int], ...] = (
        ("waf_events_1m", 180),
        ("waf_events_1h", 730),
        ("waf_events_daily_summary", 0),
    )
    partitions_ahead: int = 3

    @classmethod
    def of_days(
        cls, raw: int, compress_after: int, agg_1m: int, agg_1h: int, agg_1d: int
    ) -> "HotPolicy":
        """A policy from the day counts of the settings (or of the Dagster resource)."""
        return cls(
            retention_days=raw,
            compress_after_days=compress_after,
            agg_retention_days=tuple(zip(AGGREGATES, (agg_1m, agg_1h, agg_1d), strict=True)),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> "HotPolicy":
        return cls.of_days(
            settings.hot_retention_days,
            settings.hot_compress_after_days,
            settings.agg_1m_retention_days,
            settings.agg_1h_retention_days,
            settings.agg_1d_retention_days,
        )

    def first_retained_day(self, today: date) -> date | None:
        """The oldest event day the hot table keeps (None: every day)."""
        return today - timedelta(days=self.retention_days) if self.retention_days else None


class RuleQueryError(HotStoreError):
    """PostgreSQL refused the SQL compiled from a rule."""


@dataclass(frozen=True)
class UpsertResult:
    changed: int  # incidents inserted or updated
    superseded: list[str]  # ids deleted because a merged incident replaces them


@dataclass(frozen=True)
class LoadResult:
    inserted: int
    duplicates: int
    outside_retention: int = 0  # older than the hot retention: kept in the lake only
    refresh_seconds: float = 0.0


@dataclass(frozen=True)
class MaintenanceReport:
    dialect: str
    partitions_created: list[str] = field(default_factory=list)
    partitions_dropped: list[str] = field(default_factory=list)
    aggregate_rows_pruned: dict[str, int] = field(default_factory=dict)
    policies_changed: list[str] = field(default_factory=list)
    failed_jobs: list[str] = field(default_factory=list)


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, UTC)


def _each_day(lo: datetime, hi: datetime) -> list[datetime]:
    return [lo + timedelta(days=i) for i in range((hi - lo).days)]


def partition_name(day: date) -> str:
    return f"waf_events_p{day:%Y%m%d}"


class _UtcTimestamptzLoader(TimestamptzLoader):
    def load(self, data: Buffer) -> datetime:
        return super().load(data).astimezone(UTC)


class _UtcTimestamptzBinaryLoader(TimestamptzBinaryLoader):
    def load(self, data: Buffer) -> datetime:
        return super().load(data).astimezone(UTC)


def _times_in_utc(conn: psycopg.Connection[Any]) -> None:
    """Make ``conn`` return timestamptz values in UTC whatever the session's time zone.

    The hot store asks for TimeZone=UTC at connect (a startup option), but a server or
    pooler may ignore startup options (PgBouncer with ``ignore_startup_parameters =
    options``; PGlite). psycopg returns times in the session's zone, and day arithmetic
    on them (runs end at midnight UTC) would then follow that zone's midnight. Only then
    are these (pure Python, slower) loaders registered; the SQL names UTC itself.
    """
    if conn.info.parameter_status("TimeZone") in ("UTC", "Etc/UTC"):
        return
    conn.adapters.register_loader("timestamptz", _UtcTimestamptzLoader)
    conn.adapters.register_loader("timestamptz", _UtcTimestamptzBinaryLoader)


class HotStore:
    """Typed access to the hot tables, their aggregates and the incidents table."""

    def __init__(
        self,
        dsn: str,
        connect_timeout: int = 10,
        policy: HotPolicy | None = None,
        *,
        prepare_threshold: int | None = 5,
    ) -> None:
        """``prepare_threshold``: psycopg's (executions of a query before it is prepared
        server-side; None never prepares). Servers whose connections share one session
        (PGlite, a transaction-mode pooler before PgBouncer 1.21) need None."""
        self.dsn = dsn
        self.connect_timeout = connect_timeout
        self.policy = policy or HotPolicy()
        self.prepare_threshold = prepare_threshold
        self._dialect: Dialect | None = None
        self._reader: psycopg.Connection[Any] | None = None

    def clone(self) -> "HotStore":
        """The same store for another thread (connections are not shared across threads)."""
        other = HotStore(
            self.dsn, self.connect_timeout, self.policy, prepare_threshold=self.prepare_threshold
        )
        other._dialect = self._dialect
        return other

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Share one autocommit connection among the rule queries run inside (an evaluation
        runs hundreds of short queries: a connection each would cost more than the queries)."""
        if self._reader is not None:
            yield
            return
        with self.connect(autocommit=True) as conn:
            self._reader = conn
            try:
                yield
            finally:
                self._reader = None

    @contextmanager
    def connect(self, autocommit: bool = False) -> Iterator[psycopg.Connection[Any]]:
        try:
            conn = psycopg.connect(
                self.dsn,
                autocommit=autocommit,
                connect_timeout=self.connect_timeout,
                options="-c TimeZone=UTC",  # day buckets and returned times in UTC
                prepare_threshold=self.prepare_threshold,
            )
        except psycopg.OperationalError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            first = redact_text(first, secrets_of(self.dsn))
            raise HotStoreError(
                f"cannot connect to the hot store PostgreSQL: {first} "
                "(check SOC_PG_DSN, or unset it to use the embedded server)"
            ) from exc
        try:
            _times_in_utc(conn)
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

    def setup(self, target_version: int | None = None) -> Dialect:
        """Bring the schema to ``target_version`` (default: the newest) and apply the
        configured policies. Safe to run any number of times, and concurrently.

        A database keeps the dialect its schema was created with: installing TimescaleDB
        later does not turn existing plain partitions into a hypertable.
        """
        with self.connect(autocommit=True) as conn:
            version = conn.execute(sql.query("server_version")).fetchone()
            if version and version[0] < MIN_PG_VERSION:
                raise HotStoreError(
                    f"the hot store needs PostgreSQL 15 or newer (server is {version[0]})"
                )
            fold = conn.execute(sql.query("fold_collation")).fetchone()
            if not (fold and fold[0]):
                raise HotStoreError(
                    "the hot store needs PostgreSQL 18 or newer (collation pg_unicode_fast) "
                    'or a server built with ICU (collation "und-x-icu"), or a collation '
                    '"soc_fold" the operator created: Sigma rules match text '
                    "case-insensitively for every alphabet under one of them"
                )
            conn.execute(sql.query("schema_lock"))
            conn.execute(
                sql.query("create_fold_collation").format(source=pgsql.Identifier(fold[0]))
            )
            conn.execute(sql.query("create_schema_version"))
            applied = {int(v): d for v, d in conn.execute(sql.query("schema_versions"))}
            if applied:
                dialect = Dialect(next(iter(applied.values())))
            else:
                # a database set up before versioning (or a new one): its waf_events table,
                # if any, says which dialect it was created with
                row = conn.execute(sql.query("existing_waf_events")).fetchone()
                kind = row[0] if row else None
                if kind == "p":
                    dialect = Dialect.PLAIN
                elif kind == "r":
                    dialect = Dialect.TIMESCALE
                else:
                    dialect = self.detect_dialect(conn)
            for migration in sql.migrations(dialect.value):
                if migration.version in applied:
                    continue
                if target_version is not None and migration.version > target_version:
                    break
                self._migrate(conn, dialect, migration)
            # the policies are those of the newest schema (compression is enabled by
            # 0002, the aggregates they name appear there): not for an older target
            if dialect is Dialect.TIMESCALE and (
                target_version is None or target_version >= sql.latest_version()
            ):
                self._apply_policies(conn)
        self._dialect = dialect
        return dialect

    def _migrate(
        self, conn: psycopg.Connection[Any], dialect: Dialect, migration: sql.Migration
    ) -> None:
        """Apply one migration and record it. Plain PostgreSQL: in one transaction.
        TimescaleDB: statement by statement (aggregate refreshes cannot run in a
        transaction); every statement is idempotent, so a failed migration is re-run whole.
        """
        record = {"version": migration.version, "name": migration.name, "dialect": dialect.value}

        def apply_all() -> None:
            for label, statement in migration.statements:
                try:
                    conn.execute(statement)
                except psycopg.Error as exc:
                    raise HotStoreError(
                        f"schema migration {migration.version:04d} ({migration.name}) failed "
                        f"at {label}: {exc}"
                    ) from exc
            conn.execute(sql.query("record_schema_version"), record)

        if dialect is Dialect.PLAIN:
            with conn.transaction():
                apply_all()
        else:
            apply_all()

    def schema_version(self) -> int:
        with self.connect() as conn:
            rows = conn.execute(sql.query("schema_versions")).fetchall()
        return max((int(r[0]) for r in rows), default=0)

    def _apply_policies(self, conn: psycopg.Connection[Any]) -> list[str]:
        """TimescaleDB: make the compression and retention policies match the settings.
        A policy is replaced only when its configured value changed."""
        conn.execute(sql.query("create_policy_table"))
        p = self.policy
        wanted: list[tuple[str, str, int]] = [
            ("waf_events", "compression", p.compress_after_days),
            ("waf_events", "retention", p.retention_days),
            *((name, "retention", days) for name, days in p.agg_retention_days),
            (GEO_1M, "retention", dict(p.agg_retention_days)["waf_events_1m"]),
        ]
        changed = []
        for relation, policy, days in wanted:
            setting = f"{days} days" if days else "off"
            row = conn.execute(
                sql.query("policy_applied"), {"relation": relation, "policy": policy}
            ).fetchone()
            present = conn.execute(
                sql.query("policy_job_exists"),
                {"relation": relation, "proc": f"policy_{policy}"},
            ).fetchone()
            if row and row[0] == setting and bool(present and present[0]) == bool(days):
                continue
            params = {
                "relation": pgsql.Literal(relation),
                "interval": pgsql.SQL("{}::interval").format(pgsql.Literal(setting)),
            }
            with conn.transaction():
                conn.execute(sql.query(f"remove_{policy}_policy").format(**params))
                if days:
                    conn.execute(sql.query(f"add_{policy}_policy").format(**params))
                conn.execute(
                    sql.query("record_policy"),
                    {"relation": relation, "policy": policy, "setting": setting},
                )
            changed.append(f"{relation} {policy}: {setting}")
        return changed

    @property
    def dialect(self) -> Dialect:
        if self._dialect is None:
            return self.setup()
        return self._dialect

    def ensure_day_partitions(self, days: Sequence[date]) -> list[str]:
        """Create the native partitions of ``days`` (plain dialect; chunks are automatic);
        return the names of those created.

        Each in its own short transaction: creating a partition locks the parent table, and
        that lock must not last as long as a load.
        """
        if self.dialect is not Dialect.PLAIN or not days:
            return []
        created = []
        with self.connect(autocommit=True) as conn:
            existing = {r[0] for r in conn.execute(sql.query("list_day_partitions"))}
            for day in sorted(set(days)):
                name = partition_name(day)
                if name in existing:
                    continue
                conn.execute(
                    sql.query("create_day_partition").format(
                        partition=pgsql.Identifier(name),
                        lo=pgsql.Literal(day_start(day)),
                        hi=pgsql.Literal(day_start(day + timedelta(days=1))),
                    )
                )
                created.append(name)
        return created

    # -- loading --------------------------------------------------------------------------

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
        days = buckets.event_days(kept["event_time"])
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
        lo, hi = buckets.day_range(day)
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

    @staticmethod
    def _lock_days(conn: psycopg.Connection[Any], days: Sequence[date]) -> None:
        for day in sorted(set(days)):
            conn.execute(sql.query("lock_day"), {"day": day})

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

    # -- aggregates -----------------------------------------------------------------------

    def refresh_aggregates(self, ranges: Sequence[buckets.Range]) -> float:
        """Refresh every aggregate level for the buckets of ``ranges`` (minute-aligned or
        wider); return the seconds it took."""
        minutes = buckets.widen(ranges, buckets.MINUTE)
        started = perf_counter()
        if self.dialect is Dialect.TIMESCALE:
            self._refresh_caggs(minutes)
        else:
            with self.connect() as conn:
                # a concurrent load of these days must not interleave with the recompute
                days = buckets.widen(minutes, buckets.DAY)
                self._lock_days(conn, [d.date() for lo, hi in days for d in _each_day(lo, hi)])
                self._refresh_tables(conn, minutes)
        return perf_counter() - started

    def retained_days(self, days: Sequence[date], today: date | None = None) -> list[date]:
        """``days`` that the hot table still keeps (not past the raw retention), sorted."""
        first = self.policy.first_retained_day(today or datetime.now(UTC).date())
        return sorted(d for d in set(days) if first is None or d >= first)

    def refresh_days(self, days: Sequence[date]) -> float:
        """Refresh the aggregates of whole ``days``. Days past the raw retention are left
        alone: their raw rows are gone, and a recompute would empty their summaries."""
        kept = self.retained_days(days)
        if not kept:
            return 0.0
        return self.refresh_aggregates([buckets.day_range(d) for d in kept])

    @staticmethod
    def _refresh_tables(
        conn: psycopg.Connection[Any], minutes: Sequence[buckets.Range], prune: bool = True
    ) -> None:
        """Plain dialect: refresh the touched buckets of each summary table, finest first.

        The minute and hour levels recompute their touched buckets from the level below
        and upsert them. The day level: when whole days are refreshed (rebuilds, explicit
        day refreshes) it is recomputed for those days; for a partial refresh (a load) the
        per-IP changes of the touched minutes are applied to it instead, so its cost does
        not grow with the size of the day.

        ``prune``: also delete groups of the refreshed buckets that no longer have events
        (after a rebuild or an outside change; a load only adds rows, so it skips that).
        """

        days = buckets.widen(minutes, buckets.DAY)
        whole_days = list(minutes) == days

        def run(name: str, ranges: Sequence[buckets.Range], **extra: object) -> None:
            params = {
                "los": [lo for lo, _ in ranges],
                "his": [hi for _, hi in ranges],
                "lo": ranges[0][0],
                "hi": ranges[-1][1],
                "prune": prune and not whole_days,
                **extra,
            }
            level = name.removeprefix("refresh_")
            if whole_days and level in _LEVEL_TIME_COLUMN:
                conn.execute(
                    sql.query("clear_aggregate_ranges").format(
                        table=pgsql.Identifier(level),
                        column=pgsql.Identifier(_LEVEL_TIME_COLUMN[level]),
                    ),
                    params,
                )
            conn.execute(sql.query(name), params)

        if not whole_days:
            conn.execute(sql.query("refresh_delta_open"))
            run("refresh_delta_capture", minutes, sign=-1)
        # hashing the one-minute groups (up to one per event) beats the planner's sort
        conn.execute(sql.query("refresh_work_mem"), {"sort": "off"})
        run("refresh_waf_events_1m", minutes)
        run(f"refresh_{GEO_1M}", minutes)
        faults.check("aggregates_level")  # the minute level refreshed, the coarser not
        conn.execute(sql.query("refresh_work_mem"), {"sort": "on"})
        if not whole_days:
            run("refresh_delta_capture", minutes, sign=1)
        run("refresh_waf_events_1h", buckets.widen(minutes, buckets.HOUR))
        if whole_days:
            run("refresh_waf_events_daily_ips", days)
            run("refresh_waf_events_daily_summary", days)
        else:
            conn.execute(sql.query("refresh_daily_apply_delta"))
            conn.execute(sql.query("refresh_daily_drop_empty"))

    def _refresh_caggs(self, minutes: Sequence[buckets.Range]) -> None:
        """TimescaleDB: refresh each continuous aggregate for the touched buckets, finest
        first (each level reads the one below). Outside any transaction, as required."""
        with self.connect(autocommit=True) as conn:
            for level in (*AGGREGATES, GEO_1M):
                ranges = buckets.cap(
                    buckets.widen(minutes, _LEVEL_WIDTH[level]), MAX_CAGG_REFRESHES
                )
                for lo, hi in ranges:
                    conn.execute(
                        sql.query("refresh_cagg").format(view=pgsql.Literal(level)),
                        {"lo": lo, "hi": hi},
                    )
                if level == AGGREGATES[0]:
                    faults.check("aggregates_level")  # the minute level refreshed, not more

    def daily_summary(self, start: date, end: date) -> list[dict[str, Any]]:
        with self.connect() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                sql.query("daily_summary"),
                {"lo": day_start(start), "hi": day_start(end + timedelta(days=1))},
            )
            return list(cur.fetchall())

    def aggregate_totals(self, day: date) -> dict[str, int]:
        """Events of ``day`` as counted by the base table and by each aggregate level."""
        lo, hi = buckets.day_range(day)
        with self.connect() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(sql.query("aggregate_totals"), {"lo": lo, "hi": hi})
            row = cur.fetchone() or {}
        return {k: int(v) for k, v in row.items()}

    def count_events(self, start: date, end: date) -> int:
        with self.connect() as conn:
            row = conn.execute(
                sql.query("count_events"),
                {"lo": day_start(start), "hi": day_start(end + timedelta(days=1))},
            ).fetchone()
        return int(row[0]) if row else 0

    def count_events_by_day(self, days: Sequence[date]) -> dict[date, int]:
        with self.connect() as conn:
            rows = conn.execute(
                sql.query("count_events_by_day"), {"days": sorted(set(days))}
            ).fetchall()
        return {r[0]: int(r[1]) for r in rows}

    def newest_event_time(self) -> datetime | None:
        with self.connect() as conn:
            row = conn.execute(sql.query("newest_event")).fetchone()
        return row[0] if row else None

    # -- maintenance ----------------------------------------------------------------------

    def maintain(self, today: date | None = None) -> MaintenanceReport:
        """The daily upkeep. Plain PostgreSQL: create the coming days' partitions, detach
        and drop those past retention, prune summary rows past their own retention.
        TimescaleDB: re-assert the policies (its job scheduler compresses, drops chunks
        and prunes aggregates) and report policy jobs whose last run failed."""
        today = today or datetime.now(UTC).date()
        if self.dialect is Dialect.TIMESCALE:
            with self.connect(autocommit=True) as conn:
                changed = self._apply_policies(conn)
                failed = [
                    f"job {r[0]} {r[1]} on {r[2]}: {r[3]} ({r[4]} failures in all)"
                    for r in conn.execute(sql.query("failed_jobs"))
                ]
            return MaintenanceReport(
                self.dialect.value, policies_changed=changed, failed_jobs=failed
            )
        ahead = [today + timedelta(days=i) for i in range(self.policy.partitions_ahead + 1)]
        created = self.ensure_day_partitions(ahead)
        dropped: list[str] = []
        first = self.policy.first_retained_day(today)
        with self.connect(autocommit=True) as conn:
            if first is not None:
                oldest = partition_name(first)
                attached = {r[0] for r in conn.execute(sql.query("list_day_partitions"))}
                # detached by an earlier run that then failed to drop them
                leftovers = {r[0] for r in conn.execute(sql.query("list_detached_partitions"))}
                for name in sorted(attached | leftovers):
                    if not (name.startswith("waf_events_p") and name < oldest):
                        continue
                    ident = pgsql.Identifier(name)
                    if name in attached:
                        # CONCURRENTLY: readers and loads of other days are not blocked
                        conn.execute(sql.query("detach_partition").format(partition=ident))
                    conn.execute(sql.query("drop_table").format(table=ident))
                    dropped.append(name)
            pruned = {}
            if first is not None:
                # per-IP day counts only serve days that can still receive events
                cur = conn.execute(
                    sql.query("prune_aggregate").format(
                        table=pgsql.Identifier("waf_events_daily_ips"),
                        column=pgsql.Identifier("day"),
                    ),
                    {"before": day_start(first)},
                )
                pruned["waf_events_daily_ips"] = cur.rowcount
            minute_days = dict(self.policy.agg_retention_days)["waf_events_1m"]
            for level, days in (*self.policy.agg_retention_days, (GEO_1M, minute_days)):
                if not days or first is None:
                    continue  # kept forever, or raw events are (re-summarising needs them)
                before = min(today - timedelta(days=days), first)
                cur = conn.execute(
                    sql.query("prune_aggregate").format(
                        table=pgsql.Identifier(level),
                        column=pgsql.Identifier(_LEVEL_TIME_COLUMN[level]),
                    ),
                    {"before": day_start(before)},
                )
                pruned[level] = cur.rowcount
        return MaintenanceReport(
            self.dialect.value,
            partitions_created=created,
            partitions_dropped=dropped,
            aggregate_rows_pruned=pruned,
        )

    # -- correlation and incidents ---------------------------------------------------------

    def run_query(self, name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Run the named query file and return its rows as dicts."""
        with self.connect() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(sql.query(name), params)
            return list(cur.fetchall())

    def match_rule(self, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Run a compiled rule's window query (``CompiledRule.query()``: SQL the Sigma backend
        compiled from a rule file, rendered into sql/rules/match_windows.sql)."""
        try:
            if self._reader is not None:
                with self._reader.cursor(row_factory=dict_row) as cur:
                    cur.execute(pgsql.SQL(query), params)
                    return list(cur.fetchall())
            with self.connect() as conn, conn.cursor(row_factory=dict_row) as cur:
                cur.execute(pgsql.SQL(query), params)
                return list(cur.fetchall())
        except (psycopg.errors.DataError, psycopg.errors.SyntaxErrorOrAccessRuleViolation) as e:
            # SQL compiled from a rule that PostgreSQL refuses (e.g. a regular expression it
            # cannot compile): the rule's problem, not the store's
            raise RuleQueryError(str(e).strip().splitlines()[0]) from e

    @contextmanager
    def correlation_lock(self) -> Iterator[None]:
        """Hold the correlation lock (a session advisory lock): evaluations and the
        incident writes that follow them run one at a time across processes."""
        with self.connect(autocommit=True) as conn:
            conn.execute(sql.query("lock_correlation"))
            try:
                yield
            finally:
                conn.execute(sql.query("unlock_correlation"))

    def count_matches(self, predicate: str, start: datetime, end: datetime) -> int:
        """How many events in [start, end) a compiled predicate matches: proves a converted
        rule runs against the hot table (``rules convert --report``)."""
        query = sql.query("count_rule_matches").format(
            predicate=pgsql.SQL(predicate),
            lo=pgsql.Literal(start),
            hi=pgsql.Literal(end),
        )
        with self.connect() as conn, conn.cursor() as cur:
            cur.execute(query)
            row = cur.fetchone()
            return int(row[0]) if row else 0

    def incident_spans(
        self, rule: str, group_keys: Iterable[str], start: datetime, end: datetime
    ) -> list[tuple[str, datetime, datetime]]:
        """(group, first window start, last window end) of a rule's stored incidents of
        those groups whose windows reach into [start, end)."""
        rows = self.run_query(
            "incident_spans",
            {"rule": rule, "groups": sorted(set(group_keys)), "lo": start, "hi": end},
        )
        return [(r["group_key"], r["window_start"], r["window_end"]) for r in rows]

    def replace_shadow_incidents(
        self, hunt: str, days: Sequence[date], incidents: Sequence[Incident]
    ) -> None:
        """Store a retro-hunt's incidents of ``days`` (replacing an earlier run of them)."""
        with self.connect() as conn, conn.cursor() as cur:
            cur.execute(sql.query("delete_shadow_days"), {"hunt": hunt, "days": sorted(set(days))})
            cur.executemany(
                sql.query("insert_shadow_incident"),
                [
                    {
                        "hunt": hunt,
                        "day": i.window_start.astimezone(UTC).date(),
                        "id": i.id,
                        "rule": i.rule,
                        "rule_version": i.rule_version,
                        "group_key": i.group_key,
                        "window_start": i.window_start,
                        "window_end": i.window_end,
                        "start_time": i.start_time,
                        "end_time": i.end_time,
                        "event_count": i.event_count,
                        "severity": i.severity,
                        "score": i.score,
                        "description": i.description,
                    }
                    for i in incidents
                ],
            )

    def shadow_diff(
        self, hunt: str, rules: Sequence[str], days: Sequence[date]
    ) -> list[dict[str, Any]]:
        """A retro-hunt against the live incidents of the same rules and days: one row per
        incident that is ``added``, ``removed`` or ``changed`` (event count, end, severity)."""
        return self.run_query(
            "shadow_diff", {"hunt": hunt, "rules": list(rules), "days": sorted(set(days))}
        )

    def upsert_incidents(
        self,
        incidents: Sequence[Incident],
        search_docs: Sequence[str],
        *,
        retire: tuple[Sequence[str], Sequence[date]] | None = None,
        last_starts: Sequence[datetime] | None = None,
        retire_windows: Sequence[tuple[str, Sequence[datetime]]] = (),
    ) -> UpsertResult:
        """Insert or update incidents by id, and delete those they supersede (same rule and
        group, first window inside the incident's run), in one transaction.

        ``retire`` = (rules, days): those whole days were re-evaluated for those rules, so
        their incidents starting there that were not found again are deleted too.
        ``retire_windows`` = (rule, window starts) evaluated for every group: the rule's
        incidents whose first window is one of them and that were not found again no longer
        fire there (a condition that can stop holding, or data replaced) and are deleted.
        ``last_starts``: each incident's last window start (default: its window end).
        """
        if not incidents and retire is None and not any(w for _, w in retire_windows):
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
                "group_key": inc.group_key,
                "group_fields": Jsonb(dict(inc.group)),
                "sources": list(inc.sources),
                "source_count": inc.source_count,
                "target_count": inc.target_count,
                "score": inc.score,
                "score_reasons": list(inc.score_reasons),
                "status": inc.status,
                "suppression": inc.suppression,
                "suppressed_count": inc.suppressed_count,
                "rule_title": inc.rule_title,
                "rule_version": inc.rule_version,
                "attack_tactics": list(inc.attack_tactics),
            }
            for inc, doc in zip(incidents, search_docs, strict=True)
        ]
        with self.connect() as conn, conn.cursor() as cur:
            retired: set[str] = set()
            if retire is not None:
                rules, days = retire
                lo, hi = day_start(min(days)), day_start(max(days) + timedelta(days=1))
                cur.execute(
                    sql.query("retire_incidents"),
                    {
                        "rules": list(rules),
                        "days": sorted(set(days)),
                        "lo": lo,
                        "hi": hi,
                        "ids": [i.id for i in incidents],
                    },
                )
                retired = {row[0] for row in cur.fetchall()}
            for rule, windows in retire_windows:
                if windows:
                    cur.execute(
                        sql.query("retire_incident_windows"),
                        {"rule": rule, "windows": list(windows), "ids": [i.id for i in incidents]},
                    )
                    retired |= {row[0] for row in cur.fetchall()}
            if not incidents:
                return UpsertResult(0, sorted(retired))
            cur.execute(
                sql.query("supersede_incidents"),
                {
                    "rules": [i.rule for i in incidents],
                    "group_keys": [i.group_key for i in incidents],
                    "window_starts": [i.window_start for i in incidents],
                    "last_starts": list(last_starts)
                    if last_starts is not None
                    else [i.window_end for i in incidents],
                    "ids": [i.id for i in incidents],
                },
            )
            superseded = sorted(retired | {row[0] for row in cur.fetchall()})
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
        group_key=row["group_key"],
        group=dict(row["group_fields"]),
        sources=list(row["sources"]),
        source_count=int(row["source_count"]),
        target_count=int(row["target_count"]),
        score=int(row["score"]),
        score_reasons=list(row["score_reasons"]),
        status=row["status"],
        suppression=row["suppression"],
        suppressed_count=int(row["suppressed_count"]),
        rule_title=row["rule_title"],
        rule_version=row["rule_version"],
        attack_tactics=list(row["attack_tactics"]),
    )
