"""The raw lake: Apache Iceberg tables written with pyiceberg.

Embedded default: a ``SqlCatalog`` on SQLite with a local warehouse. Production: the same
catalog class on PostgreSQL and an S3/MinIO warehouse (``s3.*`` FileIO properties).
"""

import functools
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.catalog import Catalog
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.expressions import (
    And,
    BooleanExpression,
    GreaterThanOrEqual,
    In,
    LessThan,
    Or,
)
from pyiceberg.table import Table
from pyiceberg.transforms import DayTransform

from soc_platform import faults
from soc_platform.days import days_range, event_days
from soc_platform.errors import LakeError
from soc_platform.lake.tables import first_per_key
from soc_platform.models import DEAD_LETTER_SCHEMA, LAKE_EVENT_SCHEMA
from soc_platform.redact import redact_text, redact_url, secrets_of, split_userinfo
from soc_platform.settings import Settings

RAW_EVENTS = "raw_waf_events"
DEAD_LETTER = "dead_letter"


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

    def _ensure(self, name: str, schema: pa.Schema, ts_col: str, part_name: str) -> None:
        ident = self._ident(name)
        if self.catalog.table_exists(ident):
            self._evolve(ident, schema)
            return
        txn = self.catalog.create_table_transaction(
            ident, schema=schema, properties={"write.parquet.compression-codec": "zstd"}
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
        # only the touched days (late events of last week do not drag in the days between)
        days = event_days(events["event_time"])
        scope = functools.reduce(Or, (_time_window(*days_range([d])) for d in days))
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
        table = self.table(name)
        with self._reaching(f"appending to {name}"):
            existing = table.scan(row_filter=scope, selected_fields=(key,)).to_arrow()[key]
            fresh = rows.filter(pc.invert(pc.is_in(rows[key], value_set=existing.combine_chunks())))
            duplicates = rows.num_rows - fresh.num_rows
            if fresh.num_rows == 0:
                return AppendResult(0, duplicates, None, fresh)
            try:
                txn = table.transaction()
                txn.append(fresh)  # writes the data files and manifests, commits nothing
                if fault_point:
                    faults.check(fault_point)
                table = txn.commit_transaction()
            except CommitFailedException as exc:
                raise LakeError(
                    f"concurrent commit on {name}; the run can be retried safely"
                ) from exc
        snapshot = table.current_snapshot()
        snapshot_id = snapshot.snapshot_id if snapshot else None
        return AppendResult(fresh.num_rows, duplicates, snapshot_id, fresh)

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

    def _count_by_reading(self, days: Iterable[date]) -> dict[date, int]:
        counts: dict[date, int] = {}
        for day in sorted(set(days)):
            counts[day] = self.read_events(day, day, columns=("event_id",)).num_rows
        return counts


def _time_window(lo: datetime, hi: datetime) -> BooleanExpression:
    """event_time in [lo, hi): prunes to the day partitions in range."""
    # pyiceberg's expression classes take positional literals at run time; their
    # pydantic-generated signatures confuse mypy.
    return And(
        GreaterThanOrEqual("event_time", lo.isoformat()),  # type: ignore[call-arg]
        LessThan("event_time", hi.isoformat()),  # type: ignore[call-arg]
    )
