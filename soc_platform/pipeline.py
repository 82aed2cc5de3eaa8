"""The micro-batch and reprocessing steps, composed from stores and pure logic.

Dagster ops, assets and the CLI all call these functions, so every path does the same
work. Each function returns a small report whose fields become run metadata.
"""

import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from soc_platform.correlation.incidents import build_incident, search_text
from soc_platform.correlation.rules import BUILTIN_RULES, ThresholdRule
from soc_platform.correlation.runs import find_runs, neighbours, to_expand
from soc_platform.correlation.windows import (
    day_windows,
    merge_windows,
    recent_windows,
    touched_windows,
)
from soc_platform.models import LAKE_EVENT_SCHEMA, Incident
from soc_platform.parsing import DEFAULT_FORMAT, get_parser
from soc_platform.stores.hot import HotStore
from soc_platform.stores.lake import Lake, event_days
from soc_platform.stores.landing import iter_blocks
from soc_platform.stores.search import SearchBackend


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
    files_failed: dict[str, str] = field(default_factory=dict)  # path -> why it stopped
    days: list[date] = field(default_factory=list)  # event days of the batch
    new_days: list[date] = field(default_factory=list)  # days that got rows new to the lake
    # Every valid event of the batch, not only those new to the lake: the downstream steps
    # are idempotent, and a run retried after failing between the lake append and the hot
    # load must still bring the events to the hot store.
    events: pa.Table = field(default_factory=LAKE_EVENT_SCHEMA.empty_table)


def ingest_files(
    lake: Lake, paths: Sequence[str], source_format: str = DEFAULT_FORMAT
) -> IngestReport:
    """Parse landing files and append events and dead letters to the lake, idempotently.

    A file that vanished or cannot be read to its end (e.g. a truncated gzip) does not fail
    the batch: the lines read before the problem are kept and the file is reported in
    ``files_failed`` with the reason.
    """
    parser = get_parser(source_format)
    lake.ensure_tables()
    ingested_at = datetime.now(UTC)
    events: list[pa.Table] = []
    dead: list[pa.Table] = []
    report = IngestReport()
    reasons: Counter[str] = Counter()
    for path in paths:
        report.files += 1
        try:
            for block in iter_blocks(Path(path)):
                result = parser(block, path, ingested_at)
                report.lines_read += result.lines_read
                events.append(result.events)
                dead.append(result.dead_letters)
                reasons.update(result.dead_letter_counts())
        except (OSError, EOFError, zlib.error) as exc:
            report.files_failed[path] = f"{type(exc).__name__}: {exc}"
    all_events = pa.concat_tables(events) if events else LAKE_EVENT_SCHEMA.empty_table()
    report.parsed = all_events.num_rows
    report.dead_letter_reasons = dict(sorted(reasons.items()))
    report.dead_letters = sum(reasons.values())
    if dead:
        report.dead_letters_new = lake.append_dead_letters(pa.concat_tables(dead)).appended
    appended = lake.append_events(all_events)
    report.appended = appended.appended
    report.duplicates = appended.duplicates
    report.events = all_events
    report.days = event_days(all_events["event_time"])
    report.new_days = event_days(appended.rows["event_time"])
    return report


@dataclass
class HotReport:
    inserted: int
    duplicates: int
    days: list[date]
    dialect: str


def load_hot(hot: HotStore, events: pa.Table) -> HotReport:
    """Load new events into the hot table and refresh the summary for the touched days."""
    days = event_days(events["event_time"])
    result = hot.load_events(events, days)
    hot.refresh_daily_summary(days)
    return HotReport(result.inserted, result.duplicates, days, hot.dialect.value)


def rebuild_hot_days(hot: HotStore, lake: Lake, days: Sequence[date]) -> HotReport:
    """Rewrite the hot rows and summary of ``days`` from the lake alone (reprocessing)."""
    if not days:
        return HotReport(0, 0, [], hot.dialect.value)
    events = lake.read_events(min(days), max(days))
    result = hot.replace_days(events, days)
    hot.refresh_daily_summary(days)
    return HotReport(result.inserted, result.duplicates, sorted(days), hot.dialect.value)


@dataclass
class CorrelationReport:
    windows_evaluated: int
    incidents: list[Incident]
    changed: int
    per_rule: dict[str, int]
    superseded: list[str] = field(default_factory=list)  # ids merged into other incidents


def correlate(
    hot: HotStore,
    event_times: pa.Array | pa.ChunkedArray,
    *,
    now: datetime | None = None,
    rules: Iterable[ThresholdRule] = BUILTIN_RULES,
) -> CorrelationReport:
    """Evaluate every rule over the windows the new events touched, plus the rule's lookback
    before ``now``; late events thereby re-evaluate their own (past) windows."""
    now = now or datetime.now(UTC)
    plan = {
        rule: merge_windows(
            touched_windows(event_times, rule.window, rule.hop),
            recent_windows(now, rule.lookback, rule.window, rule.hop),
        )
        for rule in rules
    }
    return _evaluate(hot, plan)


def correlate_days(
    hot: HotStore, days: Sequence[date], rules: Iterable[ThresholdRule] = BUILTIN_RULES
) -> CorrelationReport:
    """Re-evaluate every window of ``days`` (reprocessing and backfills)."""
    return _evaluate(hot, {rule: day_windows(days, rule.window, rule.hop) for rule in rules})


def _evaluate(hot: HotStore, plan: dict[ThresholdRule, list[datetime]]) -> CorrelationReport:
    incidents: list[Incident] = []
    per_rule: dict[str, int] = {}
    evaluated = 0
    for rule, windows in plan.items():
        # Evaluate the planned windows and their neighbours, then keep following firing
        # windows outwards, so every run of consecutive firing windows is seen whole.
        fired: set[tuple[str, datetime]] = set()
        seen: set[datetime] = set()
        todo = sorted(set(windows) | neighbours(windows, rule.hop))
        while todo:
            spans = [Span(w, w + rule.window) for w in todo]
            rows = _match_spans(hot, rule, spans, rule.threshold)
            seen.update(todo)
            evaluated += len(todo)
            now_fired = {(str(r["client_ip"]), r["window_start"]) for r in rows}
            fired |= now_fired
            todo = to_expand({w for _, w in now_fired}, seen, rule.hop)
        runs = find_runs(fired, rule.hop, rule.window)
        # one row per run: its events counted once, however many of its windows held them
        totals = {
            (str(r["client_ip"]), r["window_start"]): r
            for r in _match_spans(hot, rule, [Span(r.start, r.end, r.group) for r in runs], 1)
        }
        found = [
            build_incident(rule, {**totals[(run.group, run.start)], "window_end": run.end})
            for run in runs
        ]
        per_rule[rule.id] = len(found)
        incidents.extend(found)
    result = hot.upsert_incidents(incidents, [search_text(i) for i in incidents])
    return CorrelationReport(evaluated, incidents, result.changed, per_rule, result.superseded)


@dataclass(frozen=True)
class Span:
    """A time span to count a rule's matches in, for any group or just one."""

    start: datetime
    end: datetime
    group: str | None = None


def _match_spans(
    hot: HotStore, rule: ThresholdRule, spans: Sequence[Span], threshold: int
) -> list[dict[str, Any]]:
    """Rows of the rule's query: per span and group, the matches when at least ``threshold``.

    Spans are queried in clusters of nearby times, each with constant time bounds, so the
    planner reads only the partitions and index ranges they cover.
    """
    rows: list[dict[str, Any]] = []
    clusters: list[list[Span]] = []
    for span in sorted(spans, key=lambda s: s.start):
        if clusters and span.start - max(s.end for s in clusters[-1]) <= timedelta(hours=1):
            clusters[-1].append(span)
        else:
            clusters.append([span])
    for cluster in clusters:
        rows.extend(
            hot.run_query(
                rule.query,
                {
                    "span_starts": [s.start for s in cluster],
                    "span_ends": [s.end for s in cluster],
                    "span_groups": [s.group for s in cluster],
                    "threshold": threshold,
                    "lo": min(s.start for s in cluster),
                    "hi": max(s.end for s in cluster),
                },
            )
        )
    return rows


def index_incidents(
    search: SearchBackend, incidents: Sequence[Incident], superseded: Sequence[str] = ()
) -> int:
    """Upsert incidents into the search backend by id; drop the superseded ones."""
    if not incidents and not superseded:
        return 0
    search.ensure_index()
    if superseded:
        search.delete(superseded)
    return search.upsert(incidents)
