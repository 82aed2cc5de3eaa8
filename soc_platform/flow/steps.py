"""The micro-batch and reprocessing steps, composed from stores and pure logic.

Dagster ops, assets and the CLI all call these functions, so every path does the same
work. Each function returns a small report whose fields become run metadata.
"""

import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

if TYPE_CHECKING:
    from soc_platform.alerts.sender import SendReport

from soc_platform import faults
from soc_platform.days import event_days
from soc_platform.hot.store import HotStore
from soc_platform.lake.iceberg import Lake
from soc_platform.models import EVENT_SCHEMA, LAKE_EVENT_SCHEMA, Incident
from soc_platform.parsing import DEFAULT_MAX_LINE_BYTES, LineBlock
from soc_platform.parsing.detect import AUTO, RecordParser, format_name
from soc_platform.search import backlog
from soc_platform.search.backends import SearchBackend
from soc_platform.sources.landing import iter_blocks


@dataclass
class IngestReport:
    files: int = 0
    lines_read: int = 0
    parsed: int = 0
    appended: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    dead_letters_new: int = 0
    dead_letter_reasons: dict[str, int] = field(default_factory=dict)
    events_altered: dict[str, int] = field(default_factory=dict)  # why -> events (see ParseResult)
    files_failed: dict[str, str] = field(default_factory=dict)  # path -> why it stopped
    days: list[date] = field(default_factory=list)  # event days of the batch
    new_days: list[date] = field(default_factory=list)  # days that got rows new to the lake
    # Every valid event of the batch, not only those new to the lake: the downstream steps
    # are idempotent, and a run retried after failing between the lake append and the hot
    # load must still bring the events to the hot store.
    events: pa.Table = field(default_factory=LAKE_EVENT_SCHEMA.empty_table)
    source: str = "local"  # where the batch came from: local, s3 or nats (sources/)
    # (source_offset, reason) of every dead letter: a message source confirms each input
    dead_letter_offsets: dict[int, str] = field(default_factory=dict)
    receipts: list[tuple[int, str]] = field(default_factory=list)  # nats: (seq, ack subject)
    source_lag: dict[str, int] = field(default_factory=dict)  # nats: the consumer's backlog


#: Reads one input (a landing path, an object key...) in blocks of whole lines.
BlockReader = Callable[[str], Iterable[LineBlock]]


def ingest_files(
    lake: Lake,
    paths: Sequence[str],
    source_format: str = AUTO,
    *,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    reader: BlockReader | None = None,
    source_name: Callable[[str], str] = str,
    enrich: Callable[[pa.Table], pa.Table] | None = None,
) -> IngestReport:
    """Parse landing files, enrich the events (``enrich``: ``soc_platform.enrich``'s
    ``Enricher``, AS / country / host criticality) and append events and dead letters to
    the lake, idempotently, so lake and hot rows carry the enrichment.

    A file that vanished or cannot be read to its end (e.g. a truncated gzip) does not fail
    the batch: the lines read before the problem are kept and the file is reported in
    ``files_failed`` with the reason. Lines longer than ``max_line_bytes``
    (``SOC_MAX_LINE_BYTES``) are dead letters ``too_large``. ``source_format``
    (``SOC_LANDING_FORMAT``): a format name, or ``auto`` to detect it per file (object,
    message batch). ``reader`` reads an input other than a local file (an S3 object, a
    batch of messages); ``source_name`` gives the ``source_file`` its events record
    (default: the path itself).
    """
    format_name(source_format)  # an unknown name fails before anything is read
    if reader is None:
        reader = partial(_local_blocks, max_line_bytes=max_line_bytes)
    lake.ensure_tables()
    ingested_at = datetime.now(UTC)
    events: list[pa.Table] = []
    dead: list[pa.Table] = []
    report = IngestReport()
    reasons: Counter[str] = Counter()
    altered: Counter[str] = Counter()
    for path in paths:
        report.files += 1
        parser = RecordParser(
            source_format, source_name(path), ingested_at, max_line_bytes=max_line_bytes
        )
        try:
            for block in reader(path):
                result = parser.parse(block)
                report.lines_read += result.lines_read
                events.append(result.events)
                dead.append(result.dead_letters)
                reasons.update(result.dead_letter_counts())
                altered.update(result.events_altered)
                if len(events) == 1:
                    faults.check("parse")  # the first block parsed, the rest not
        except (OSError, EOFError, zlib.error) as exc:
            report.files_failed[path] = f"{type(exc).__name__}: {exc}"
    all_events = pa.concat_tables(events) if events else LAKE_EVENT_SCHEMA.empty_table()
    if enrich is not None and all_events.num_rows:
        # columns the event schema does not hold (yet) are not stored
        all_events = enrich(all_events).select(LAKE_EVENT_SCHEMA.names)
    report.parsed = all_events.num_rows
    report.events_altered = dict(sorted(altered.items()))
    report.dead_letter_reasons = dict(sorted(reasons.items()))
    report.dead_letters = sum(reasons.values())
    if dead:
        dead_letters = pa.concat_tables(dead)
        report.dead_letters_new = lake.append_dead_letters(dead_letters).appended
        report.dead_letter_offsets = dict(
            zip(
                dead_letters["source_offset"].to_pylist(),
                dead_letters["reason"].to_pylist(),
                strict=True,
            )
        )
    faults.check("lake_dead_letters")  # the dead letters are in the lake, the events not
    appended = lake.append_events(all_events)
    report.appended = appended.appended
    report.duplicates = appended.duplicates
    report.events = all_events
    report.days = event_days(all_events["event_time"])
    report.new_days = event_days(appended.rows["event_time"])
    return report


def _local_blocks(path: str, *, max_line_bytes: int) -> Iterable[LineBlock]:
    return iter_blocks(Path(path), max_line_bytes=max_line_bytes)


@dataclass
class HotReport:
    inserted: int
    duplicates: int
    days: list[date]
    dialect: str
    outside_retention: int = 0  # events too old for the hot table (in the lake only)
    refresh_seconds: float = 0.0
    skipped_days: list[date] = field(default_factory=list)  # rebuilds: past retention


def load_hot(hot: HotStore, events: pa.Table) -> HotReport:
    """Load new events into the hot table and refresh the aggregate buckets they touched."""
    result = hot.load_events(events)
    kept = hot.retained(events)
    return HotReport(
        result.inserted,
        result.duplicates,
        event_days(kept["event_time"]),
        hot.ensure_setup().value,
        outside_retention=result.outside_retention,
        refresh_seconds=result.refresh_seconds,
    )


def rebuild_hot_days(hot: HotStore, lake: Lake, days: Sequence[date]) -> HotReport:
    """Rewrite the hot rows and aggregates of ``days`` from the lake alone (reprocessing),
    one day per transaction. Days older than the hot retention are skipped (reported):
    the retention job would drop them again."""
    todo = hot.retained_days(days)
    skipped = sorted(set(days) - set(todo))
    inserted = duplicates = 0
    refresh = 0.0
    columns = tuple(EVENT_SCHEMA.names)
    for day in todo:
        result = hot.replace_day(day, partial(lake.read_events, day, day, columns))
        inserted += result.inserted
        duplicates += result.duplicates
        refresh += result.refresh_seconds
    return HotReport(
        inserted,
        duplicates,
        todo,
        hot.ensure_setup().value,
        refresh_seconds=refresh,
        skipped_days=skipped,
    )


def drain_search_backlog(
    hot: HotStore, search: SearchBackend, ids: Sequence[str] | None = None
) -> backlog.DrainReport:
    """Send the search backlog to the backend in bulk; raises SearchBackendError when the
    backend cannot take it, the backlog kept (search/backlog.py: drain_store)."""
    return backlog.drain_store(hot, search, ids)


def index_incidents(
    hot: HotStore, search: SearchBackend, ids: Sequence[str] | None = None
) -> backlog.DrainReport:
    """Bring the search backend up to date with the incidents table: drain the backlog the
    incident writes queued. The incidents are stored whatever happens here: when the backend
    is unreachable (or refuses), the report says why (``error``) and how many incidents wait
    (``pending``) instead of raising; the next drain catches up."""
    return backlog.catch_up(hot, search, ids)


pending_line = backlog.pending_line


def rewrite_index(search: SearchBackend, incidents: Sequence[Incident]) -> int:
    """Upsert ``incidents`` (rows of the incidents table) into the backend by id (a rebuild
    of days, ``search reindex``)."""
    if not incidents:
        return 0
    search.ensure_index()
    return search.upsert(incidents)


def send_alerts(hot: HotStore) -> "SendReport | None":
    """Deliver the outbox's due notifications (None: alerting is not configured)."""
    from soc_platform.alerts import outbox, sender

    config = outbox.active_config()
    if config is None:
        return None
    return sender.drain(hot.connect, config)
