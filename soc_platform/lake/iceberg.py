"""The raw lake: Apache Iceberg tables written with pyiceberg.

Embedded default: a ``SqlCatalog`` on SQLite with a local warehouse. Production: the same
catalog class on PostgreSQL and an S3/MinIO warehouse (``s3.*`` FileIO properties).
"""

import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
from pyiceberg.catalog import Catalog
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import CommitFailedException, ValidationException
from pyiceberg.expressions import (
    AlwaysTrue,
    And,
    BooleanExpression,
    GreaterThanOrEqual,
    In,
    LessThan,
    LessThanOrEqual,
    Or,
)
from pyiceberg.io.pyarrow import ArrowScan, PyArrowFileIO, _dataframe_to_data_files
from pyiceberg.table import Table
from pyiceberg.transforms import DayTransform

from soc_platform import faults
from soc_platform.days import days_range
from soc_platform.errors import LakeError
from soc_platform.lake.tables import first_per_key, time_spans
from soc_platform.models import DEAD_LETTER_SCHEMA, LAKE_EVENT_SCHEMA
from soc_platform.redact import redact_text, redact_url, secrets_of, split_userinfo
from soc_platform.settings import Settings

RAW_EVENTS = "raw_waf_events"
DEAD_LETTER = "dead_letter"

# Table properties the lake keeps (set at creation and re-asserted by maintenance):
# manifests merged on append (no manifest per batch piling up), row groups small enough
# that a time-range filter on the time-sorted files skips most of a file.
TABLE_PROPERTIES = {
    "write.parquet.compression-codec": "zstd",
    "commit.manifest-merge.enabled": "true",
    "commit.manifest.min-count-to-merge": "20",
    "write.parquet.row-group-limit": "131072",
    # no blind rebase of a commit that lost a race: an append must dedupe again against
    # what the other writer committed (Lake._append_new retries), a rewrite start over
    "commit.retry.num-retries": "0",
}
COMMIT_ATTEMPTS = 4  # optimistic commits retried on a concurrent commit


@dataclass(frozen=True)
class LakeConfig:
    """Where the catalog and warehouse live."""

    catalog_uri: str
    warehouse: str
    namespace: str = "soc"
    s3_endpoint: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    s3_region: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> "LakeConfig":
        return cls(
            catalog_uri=settings.lake_catalog_uri,
            warehouse=settings.lake_warehouse,
            namespace=settings.lake_namespace,
            s3_endpoint=settings.s3_endpoint,
            s3_access_key_id=settings.s3_access_key_id,
            s3_secret_access_key=settings.s3_secret_access_key,
            s3_region=settings.s3_region,
        )

    def catalog_properties(self) -> dict[str, str]:
        props = {"uri": self.catalog_uri, "warehouse": self.warehouse}
        # an endpoint may carry the keys (http://key:secret@minio:9000): they go to the
        # key properties (explicit keys win), the endpoint itself goes without them
        endpoint, key_id, secret = (
            split_userinfo(self.s3_endpoint) if self.s3_endpoint else (None, None, None)
        )
        optional = {
            "s3.endpoint": endpoint,
            "s3.access-key-id": self.s3_access_key_id or key_id,
            "s3.secret-access-key": self.s3_secret_access_key or secret,
            "s3.region": self.s3_region,
        }
        props.update({k: v for k, v in optional.items() if v})
        if self.s3_endpoint:
            props["s3.path-style-access"] = "true"  # MinIO and most S3-compatible stores
        return props

    @property
    def secrets(self) -> list[str]:
        return secrets_of(self.catalog_uri, self.warehouse, self.s3_endpoint) + [
            s for s in (self.s3_secret_access_key,) if s
        ]

    def where(self) -> str:
        """The catalog and warehouse, fit to print (no credentials)."""
        return f"catalog {redact_url(self.catalog_uri)}, warehouse {redact_url(self.warehouse)}"


@dataclass(frozen=True)
class AppendResult:
    """Outcome of an idempotent append."""

    appended: int
    duplicates: int
    snapshot_id: int | None
    rows: pa.Table  # the rows that were new and are now in the table
    files_scanned: int = 0  # data files the dedupe read (pruned by the batch's time spans)


@dataclass(frozen=True)
class CompactResult:
    """Outcome of compacting one day partition."""

    day: date
    files_before: int
    files_after: int
    rows: int
    attempts: int


@dataclass
class MaintenanceReport:
    """What ``Lake.maintain`` did, per table."""

    compacted: list[CompactResult] = field(default_factory=list)
    snapshots_expired: dict[str, int] = field(default_factory=dict)
    orphans_removed: dict[str, list[str]] = field(default_factory=dict)


class Lake:
    """Idempotent appends and day-range reads of the lake's Iceberg tables."""

    def __init__(self, config: LakeConfig) -> None:
        self.config = config
        self._catalog: Catalog | None = None

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            try:
                if self.config.catalog_uri.startswith("sqlite:///"):
                    Path(self.config.catalog_uri.removeprefix("sqlite:///")).parent.mkdir(
                        parents=True, exist_ok=True
                    )
                if self.config.warehouse.startswith("file://"):
                    Path(self.config.warehouse.removeprefix("file://")).mkdir(
                        parents=True, exist_ok=True
                    )
                self._catalog = SqlCatalog(
                    self.config.namespace, **self.config.catalog_properties()
                )
            except Exception as exc:  # pyiceberg/SQLAlchemy raise many kinds
                raise LakeError(
                    f"cannot open the Iceberg catalog at {redact_url(self.config.catalog_uri)}: "
                    f"{self._reason(exc)}"
                ) from exc
        return self._catalog

    def _reason(self, exc: BaseException) -> str:
        """The first line of an exception's message, without credentials."""
        text = str(exc).strip() or type(exc).__name__
        line = next((ln for ln in text.splitlines() if ln.strip()), text)
        return redact_text(line.strip(), self.config.secrets)

    @contextmanager
    def _reaching(self, what: str) -> Iterator[None]:
        """Turn the catalog database or the warehouse failing (down, refused, denied) into
        one LakeError saying which and where."""
        from sqlalchemy.exc import SQLAlchemyError

        try:
            yield
        except (LakeError, CommitFailedException):
            raise
        except SQLAlchemyError as exc:
            raise LakeError(
                f"{what}: the Iceberg catalog at {redact_url(self.config.catalog_uri)} "
                f"failed: {self._reason(exc)}"
            ) from exc
        except OSError as exc:
            raise LakeError(
                f"{what}: the warehouse {redact_url(self.config.warehouse)} failed: "
                f"{self._reason(exc)}"
            ) from exc

    def _ident(self, name: str) -> str:
        return f"{self.config.namespace}.{name}"

    def ensure_tables(self) -> None:
        """Create the namespace and both tables if missing (day-partitioned, hidden)."""
        with self._reaching("creating the lake tables"):
            self.catalog.create_namespace_if_not_exists(self.config.namespace)
            self._ensure(RAW_EVENTS, LAKE_EVENT_SCHEMA, "event_time", "event_day")
            self._ensure(DEAD_LETTER, DEAD_LETTER_SCHEMA, "ingested_at", "ingest_day")
        self.set_properties()

    def _ensure(self, name: str, schema: pa.Schema, ts_col: str, part_name: str) -> None:
        ident = self._ident(name)
        if self.catalog.table_exists(ident):
            self._evolve(ident, schema)
            return
        txn = self.catalog.create_table_transaction(
            ident, schema=schema, properties=TABLE_PROPERTIES
        )
        with txn.update_spec() as spec:
            spec.add_field(ts_col, DayTransform(), part_name)
        txn.commit_transaction()

    def _evolve(self, ident: str, schema: pa.Schema) -> None:
        """Add the columns of ``schema`` an existing table lacks (Iceberg schema evolution:
        a metadata commit; data files and snapshots stay, older rows read null)."""
        table = self.catalog.load_table(ident)
        have = set(table.schema().column_names)
        if all(f.name in have for f in schema):
            return
        with table.update_schema() as update:
            update.union_by_name(schema)

    def table(self, name: str) -> Table:
        with self._reaching(f"loading {name}"):
            return self.catalog.load_table(self._ident(name))

    def append_events(self, events: pa.Table) -> AppendResult:
        """Append events whose ``event_id`` the lake does not hold yet (per touched day)."""
        if events.num_rows == 0:
            return AppendResult(0, 0, None, events.cast(LAKE_EVENT_SCHEMA))
        total = events.num_rows
        events = first_per_key(events.cast(LAKE_EVENT_SCHEMA), "event_id")
        # event_id hashes the canonical fields, event_time included: a lake row with the
        # same id has the same time, so only the batch's time spans (per touched day:
        # [first, last] event) are read, and the files' event_time bounds prune the rest
        scope = spans_filter(time_spans(events["event_time"]))
        # files sorted by time keep each file's bounds tight (and its row groups')
        events = events.sort_by("event_time")
        result = self._append_new(RAW_EVENTS, events, "event_id", scope, "lake_data_written")
        return replace(result, duplicates=result.duplicates + total - events.num_rows)

    def append_dead_letters(self, dead: pa.Table) -> AppendResult:
        """Append dead letters not recorded yet (same file, offset and content)."""
        if dead.num_rows == 0:
            return AppendResult(0, 0, None, dead)
        total = dead.num_rows
        dead = first_per_key(dead.cast(DEAD_LETTER_SCHEMA), "dead_letter_id")
        files = set(dead["source_file"].to_pylist())
        scope = In("source_file", files)  # type: ignore[call-arg]
        result = self._append_new(DEAD_LETTER, dead, "dead_letter_id", scope)
        return replace(result, duplicates=result.duplicates + total - dead.num_rows)

    def _append_new(
        self,
        name: str,
        rows: pa.Table,
        key: str,
        scope: BooleanExpression,
        fault_point: str = "",
    ) -> AppendResult:
        """Append the rows of ``rows`` whose ``key`` the table does not hold within
        ``scope``. The data files are written first, then one catalog commit makes them
        visible: a process dying in between leaves unreferenced files that no scan reads
        (and a retry writes its own)."""
        for attempt in range(1, COMMIT_ATTEMPTS + 1):
            table = self.table(name)
            with self._reaching(f"appending to {name}"):
                scan = table.scan(row_filter=scope, selected_fields=(key,))
                tasks = list(scan.plan_files())
                existing = scan.to_arrow()[key]
                fresh = rows.filter(
                    pc.invert(pc.is_in(rows[key], value_set=existing.combine_chunks()))
                )
                duplicates = rows.num_rows - fresh.num_rows
                if fresh.num_rows == 0:
                    return AppendResult(0, duplicates, None, fresh, len(tasks))
                try:
                    txn = table.transaction()
                    txn.append(fresh)  # writes the data files and manifests, commits nothing
                    if fault_point:
                        faults.check(fault_point)
                    table = txn.commit_transaction()
                except CommitFailedException as exc:
                    # another writer (a micro-batch, a compaction) committed first: dedupe
                    # again against what it committed, then retry; the files written for
                    # the lost attempt are orphans that orphan removal deletes
                    if attempt < COMMIT_ATTEMPTS:
                        continue
                    raise LakeError(
                        f"concurrent commit on {name}; the run can be retried safely"
                    ) from exc
            snapshot = table.current_snapshot()
            snapshot_id = snapshot.snapshot_id if snapshot else None
            return AppendResult(fresh.num_rows, duplicates, snapshot_id, fresh, len(tasks))
        raise AssertionError("unreachable")  # pragma: no cover

    def read_events(self, start: date, end: date, columns: tuple[str, ...] = ("*",)) -> pa.Table:
        """Events whose event day is in [start, end] (inclusive)."""
        window = _time_window(*days_range([start, end]))
        table = self.table(RAW_EVENTS)
        with self._reaching(f"reading {RAW_EVENTS}"):
            return table.scan(row_filter=window, selected_fields=columns).to_arrow()

    def count_events_by_day(self, days: Iterable[date]) -> dict[date, int]:
        """Events per event day, from the data files' record counts (metadata only).

        Exact because the table is partitioned by day(event_time), so every file of a
        day's partition lies wholly inside it, and the lake is append-only (no delete
        files; a file with deletes is counted by reading it).
        """
        table = self.table(RAW_EVENTS)
        counts: dict[date, int] = {}
        with self._reaching(f"counting {RAW_EVENTS}"):
            for day in sorted(set(days)):
                window = _time_window(*days_range([day]))
                total = 0
                scan = table.scan(row_filter=window, selected_fields=("event_id",))
                for task in scan.plan_files():
                    if task.delete_files:
                        return self._count_by_reading(days)
                    total += task.file.record_count
                counts[day] = total
        return counts

    def count_events_in(self, spans: Sequence[tuple[datetime, datetime]]) -> int:
        """Events whose event_time lies in one of the inclusive ``spans`` (a batch's
        spans: the scan reads only the files, and row groups, whose bounds overlap)."""
        if not spans:
            return 0
        table = self.table(RAW_EVENTS)
        with self._reaching(f"counting {RAW_EVENTS}"):
            scan = table.scan(row_filter=spans_filter(spans), selected_fields=("event_time",))
            return int(scan.to_arrow().num_rows)

    # -- maintenance ---------------------------------------------------------------------

    def files_per_day(self, days: Iterable[date] | None = None) -> dict[date, int]:
        """Data files per event day in the current snapshot (metadata only)."""
        table = self.table(RAW_EVENTS)
        with self._reaching(f"listing the files of {RAW_EVENTS}"):
            scan = table.scan(
                row_filter=_time_window(*days_range(days)) if days else AlwaysTrue(),
                selected_fields=("event_id",),
            )
            counts: dict[date, int] = {}
            for task in scan.plan_files():
                day = _file_day(task.file.partition[0])
                counts[day] = counts.get(day, 0) + 1
        return dict(sorted(counts.items()))

    def compact_day(
        self,
        day: date,
        *,
        target_bytes: int = 128 * 1024 * 1024,
        on_written: Callable[[], None] | None = None,
    ) -> CompactResult:
        """Rewrite the small data files of ``day`` into few files sorted by event_time.

        Optimistic: the rewrite replaces exactly the files it read, in one commit that
        requires the table not to have changed since; if a micro-batch committed meanwhile
        the commit fails and the rewrite starts over from the new snapshot (up to
        ``COMMIT_ATTEMPTS`` times), so a row appended concurrently is never lost.
        ``on_written`` runs after the new files are written, before the commit (tests use
        it to commit concurrently).
        """
        for attempt in range(1, COMMIT_ATTEMPTS + 1):
            table = self.table(RAW_EVENTS)
            with self._reaching(f"compacting {RAW_EVENTS} {day}"):
                scan = table.scan(row_filter=_time_window(*days_range([day])))
                tasks = list(scan.plan_files())
                small = [t for t in tasks if t.file.file_size_in_bytes < target_bytes]
                if len(small) < 2 or any(t.delete_files for t in tasks):
                    n, held = len(tasks), sum(t.file.record_count for t in tasks)
                    return CompactResult(day, n, n, held, attempt)
                rows = ArrowScan(table.metadata, table.io, table.schema(), AlwaysTrue()).to_table(
                    small
                )
                rows = rows.sort_by("event_time")
                txn = table.transaction()
                with txn.update_snapshot(
                    snapshot_properties={"soc.operation": "compact"}
                ).overwrite() as rewrite:
                    for task in small:
                        rewrite.delete_data_file(task.file)
                    for data_file in _dataframe_to_data_files(
                        table_metadata=txn.table_metadata,
                        df=rows,
                        io=table.io,
                        write_uuid=rewrite.commit_uuid,
                    ):
                        rewrite.append_data_file(data_file)
                if on_written is not None and attempt == 1:
                    on_written()
                try:
                    txn.commit_transaction()
                except (CommitFailedException, ValidationException) as exc:
                    if attempt < COMMIT_ATTEMPTS:
                        continue
                    raise LakeError(
                        f"compacting {day}: other writers kept committing; run it again"
                    ) from exc
            after = self.files_per_day([day]).get(day, 0)
            return CompactResult(day, len(tasks), after, rows.num_rows, attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def expire_snapshots(self, retention: timedelta, now: datetime | None = None) -> dict[str, int]:
        """Expire the snapshots older than ``retention`` in both tables (time travel
        keeps ``retention``; the current snapshot always stays). Returns expired counts."""
        cutoff = (now or datetime.now(UTC)) - retention
        expired: dict[str, int] = {}
        for name in (RAW_EVENTS, DEAD_LETTER):
            table = self.table(name)
            with self._reaching(f"expiring snapshots of {name}"):
                current = table.current_snapshot()
                old = [
                    s.snapshot_id
                    for s in table.snapshots()
                    if s.timestamp_ms < cutoff.timestamp() * 1000
                    and (current is None or s.snapshot_id != current.snapshot_id)
                ]
                if old:
                    table.maintenance.expire_snapshots().by_ids(old).commit()
                expired[name] = len(old)
        return expired

    def remove_orphans(self, grace: timedelta, now: datetime | None = None) -> dict[str, list[str]]:
        """Delete the files under each table's location that no snapshot, manifest or
        metadata log references and that are older than ``grace`` (a commit in flight
        writes its files before it references them: the grace period spares them).

        These are the Parquet and manifest files of a commit that failed or whose process
        died, and the data of expired snapshots."""
        cutoff = (now or datetime.now(UTC)) - grace
        removed: dict[str, list[str]] = {}
        for name in (RAW_EVENTS, DEAD_LETTER):
            table = self.table(name)
            with self._reaching(f"removing orphan files of {name}"):
                referenced = self._referenced(table)
                scheme, netloc, root = PyArrowFileIO.parse_location(table.location())
                fs = PyArrowFileIO(table.io.properties).fs_by_scheme(scheme, netloc)
                gone: list[str] = []
                for info in fs.get_file_info(pafs.FileSelector(root, recursive=True)):
                    if info.type != pafs.FileType.File or info.mtime is None:
                        continue
                    mtime = info.mtime if info.mtime.tzinfo else info.mtime.replace(tzinfo=UTC)
                    if _norm(info.path) in referenced or mtime >= cutoff:
                        continue
                    fs.delete_file(info.path)
                    gone.append(info.path)
                removed[name] = gone
        return removed

    @staticmethod
    def _referenced(table: Table) -> set[str]:
        meta = table.metadata
        paths = {table.metadata_location}
        paths.update(entry.metadata_file for entry in meta.metadata_log)
        paths.update(s.manifest_list for s in meta.snapshots)
        for snapshot in meta.snapshots:
            for manifest in snapshot.manifests(table.io):
                paths.add(manifest.manifest_path)
                for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
                    paths.add(entry.data_file.file_path)
        paths.update(s.statistics_path for s in meta.statistics)
        return {_norm(p) for p in paths}

    def set_properties(self) -> None:
        """Re-assert :data:`TABLE_PROPERTIES` on both tables (tables made before them)."""
        for name in (RAW_EVENTS, DEAD_LETTER):
            table = self.table(name)
            missing = {k: v for k, v in TABLE_PROPERTIES.items() if table.properties.get(k) != v}
            if missing:
                with self._reaching(f"setting properties of {name}"):
                    with table.transaction() as txn:
                        txn.set_properties(missing)

    def maintain(
        self,
        *,
        retention: timedelta,
        grace: timedelta,
        days: Iterable[date] | None = None,
        now: datetime | None = None,
    ) -> MaintenanceReport:
        """Compact ``days`` (default: every day holding more than one small file), then
        expire snapshots past ``retention``, then remove orphans older than ``grace``."""
        self.ensure_tables()
        self.set_properties()
        report = MaintenanceReport()
        todo = (
            sorted(set(days))
            if days is not None
            else [d for d, n in self.files_per_day().items() if n > 1]
        )
        for day in todo:
            report.compacted.append(self.compact_day(day))
        report.snapshots_expired = self.expire_snapshots(retention, now)
        report.orphans_removed = self.remove_orphans(grace, now)
        return report

    def _count_by_reading(self, days: Iterable[date]) -> dict[date, int]:
        counts: dict[date, int] = {}
        for day in sorted(set(days)):
            counts[day] = self.read_events(day, day, columns=("event_id",)).num_rows
        return counts


def spans_filter(spans: Sequence[tuple[datetime, datetime]]) -> BooleanExpression:
    """event_time within any of the inclusive [first, last] spans (prunes by file bounds)."""
    parts: list[BooleanExpression] = [
        And(
            GreaterThanOrEqual("event_time", lo.isoformat()),  # type: ignore[call-arg]
            LessThanOrEqual("event_time", hi.isoformat()),  # type: ignore[call-arg]
        )
        for lo, hi in spans
    ]
    return functools.reduce(Or, parts)


def _file_day(value: object) -> date:
    """A day-partition value (days since the epoch) as a date."""
    return date(1970, 1, 1) + timedelta(days=int(str(value)))


def _norm(path: str) -> str:
    """A file location without its scheme (``file:///x`` and ``/x`` are one file)."""
    return path.split("://", 1)[1].lstrip("/") if "://" in path else path.lstrip("/")


def _time_window(lo: datetime, hi: datetime) -> BooleanExpression:
    """event_time in [lo, hi): prunes to the day partitions in range."""
    # pyiceberg's expression classes take positional literals at run time; their
    # pydantic-generated signatures confuse mypy.
    return And(
        GreaterThanOrEqual("event_time", lo.isoformat()),  # type: ignore[call-arg]
        LessThan("event_time", hi.isoformat()),  # type: ignore[call-arg]
    )
