"""The correlation algorithm: compiled rules evaluated over windows (pure; no database).

Every micro-batch evaluates each rule over the windows its events touched (late events thus
re-evaluate their own, past, windows) plus the rule's lookback before "now"; a backfill
evaluates every window of its days. A rule's firing windows are followed outwards until
each run of consecutive firing windows of a group is seen whole; a run is one incident,
identified by (rule, group, first window), so re-evaluation updates it and never adds a
second one. With a suppression period, runs of a group less than that apart are one
incident too, which counts the runs it folded in.

What the algorithm needs from a store is the :class:`WindowStore` protocol: run a rule's
window query, and tell the spans of the incidents already stored. The hot store implements
it (``soc_platform.hot.store.HotStore``); the unit tests use a small in-memory one.
"""

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

import pyarrow as pa

from soc_platform.correlation.compiler import (
    CompiledRule,
    ordered_match,
    scan_queries,
)
from soc_platform.correlation.incidents import Context, build_incident
from soc_platform.correlation.runs import Run, find_runs, merge_close, neighbours
from soc_platform.correlation.windows import (
    day_windows,
    every_window,
    merge_windows,
    recent_windows,
    touched_windows,
)
from soc_platform.errors import RuleQueryError
from soc_platform.models import Incident


class WindowStore(Protocol):
    """What the algorithm needs from a store of events and incidents."""

    def match_rule(self, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Rows of a rule's window query (``CompiledRule.query``) for the spans in
        ``params`` (``span_starts``, ``span_ends``, ``span_groups``, ``lo``, ``hi``); raises
        :class:`RuleQueryError` when the store refuses the rule's query."""
        ...

    def incident_spans(
        self, rule: str, group_keys: Iterable[str], start: datetime, end: datetime
    ) -> list[tuple[str, datetime, datetime]]:
        """(group, first window start, last window end) of the rule's stored incidents of
        those groups whose windows reach into [start, end)."""
        ...

    def clone(self) -> "WindowStore":
        """The same store for another thread."""
        ...

    def reading(self) -> AbstractContextManager[None]:
        """A scope in which the queries share one connection (or do nothing special)."""
        ...

    def scanning(
        self, create: str, fill: str, spans: Sequence[tuple[datetime, datetime]]
    ) -> AbstractContextManager[bool]:
        """Inside :meth:`reading`, a scope in which the shared scan's table
        (``compiler.scan_queries``) holds the events of ``spans`` matching any rule; True
        when it does (the rule queries may then read it), False when the store has none."""
        ...


@dataclass
class Evaluation:
    """What an evaluation found, before it is stored."""

    incidents: list[Incident] = field(default_factory=list)
    windows_evaluated: int = 0
    planned: dict[str, list[datetime]] = field(default_factory=dict)  # rule -> all-group windows
    errors: dict[str, str] = field(default_factory=dict)  # rule -> why its query failed
    last_starts: list[datetime] = field(default_factory=list)  # per incident
    scanned: int = 0  # time spans read once for every rule (the shared scan), 0 without


Plan = dict[CompiledRule, list[datetime]]


def plan_touched(
    rules: Sequence[CompiledRule], event_times: pa.Array | pa.ChunkedArray, now: datetime
) -> Plan:
    """Each rule's windows that the events touched, plus its lookback before ``now``."""
    return {
        rule: merge_windows(
            touched_windows(event_times, rule.timespan, rule.hop),
            recent_windows(now, rule.lookback, rule.timespan, rule.hop),
        )
        for rule in rules
    }


def plan_days(rules: Sequence[CompiledRule], days: Sequence[date]) -> Plan:
    """Every window of each rule starting within ``days``."""
    return {rule: day_windows(days, rule.timespan, rule.hop) for rule in rules}


@dataclass(frozen=True)
class Span:
    """A time span to match a rule in, for any group or just one."""

    start: datetime
    end: datetime
    group: str | None = None


#: Rules are evaluated on this many connections at once (each rule's queries run in its own
#: PostgreSQL backend; the results are merged in rule order, so they do not depend on it).
WORKERS = 2


@dataclass(frozen=True)
class Scan:
    """The shared scan of an evaluation: the time spans whose events were read once for
    every rule (each rule's predicate evaluated per event into a column of its own), and
    which column is which rule's. A rule's query reads the scan instead of the events
    when its time bounds lie inside one of the spans."""

    spans: tuple[tuple[datetime, datetime], ...]
    columns: dict[str, tuple[str, ...]]  # rule name -> its references' columns

    def column(self, rule: CompiledRule, lo: datetime, hi: datetime) -> tuple[str, ...] | None:
        if rule.name not in self.columns:
            return None
        if any(s <= lo and hi <= e for s, e in self.spans):
            return self.columns[rule.name]
        return None


#: Spans of the shared scan closer than this are read as one (as in :func:`match_spans`).
GAP = timedelta(hours=1)


def scan_spans(plan: Plan) -> list[tuple[datetime, datetime]]:
    """The time spans every rule's first queries cover (its planned windows and their
    neighbours), merged when less than :data:`GAP` apart, and widened by the longest hop
    on each side, so that following a run one more window outwards stays inside (a run
    followed further reads the events: correct, only slower)."""
    if not plan:
        return []
    margin = max(rule.hop for rule in plan)
    pieces = sorted(
        (w - margin, w + rule.timespan + margin)
        for rule, windows in plan.items()
        for w in sorted(set(windows) | neighbours(windows, rule.hop))
    )
    out: list[tuple[datetime, datetime]] = []
    for lo, hi in pieces:
        if out and lo - out[-1][1] <= GAP:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def evaluate(
    store: WindowStore,
    plan: Plan,
    context: Context,
    workers: int = WORKERS,
    shared: bool = False,
) -> Evaluation:
    """Incidents of each rule over its planned windows (and the runs they belong to). A rule
    whose query fails (a regular expression PostgreSQL rejects...) is reported, and the
    other rules still run.

    With ``shared`` (and more than one rule), the events of the planned spans are read once
    for all rules (the store's shared scan: each reference predicate evaluated per event),
    and the rules' window queries read only the matches, one after another on the scan's
    connection; without it (the default, or when the store has no scan), each rule reads
    the events itself, the rules spread over ``workers`` connections. The shared scan is
    off by default: benchmarks/correlation.py measured it slower on the pack (the cost is
    each rule's grouping of its matches, not reading the events; see README "Scaling")."""
    items = list(plan.items())
    done: list[Any] | None = None
    scanned_spans = 0
    if shared and len(items) > 1:
        rules = [rule for rule, _ in items]
        spans = scan_spans(plan)
        queries = scan_queries(rules)
        worker = store.clone()
        with worker.reading(), worker.scanning(queries.create, queries.fill, spans) as scanned:
            if scanned:
                scan = Scan(tuple(spans), queries.columns)
                done = _run_share(worker, items, context, scan)
                scanned_spans = len(spans)
    if done is None:

        def alone(share: list[tuple[CompiledRule, list[datetime]]]) -> list[Any]:
            worker = store.clone()
            with worker.reading():
                return _run_share(worker, share, context)

        shares = [items[i::workers] for i in range(max(1, min(workers, len(items))))]
        if len(shares) > 1:
            with ThreadPoolExecutor(len(shares)) as pool:
                done = [r for part in pool.map(alone, shares) for r in part]
        else:
            done = alone(items)
    order = {rule.name: i for i, (rule, _) in enumerate(items)}
    out = Evaluation(scanned=scanned_spans)
    for rule, windows, result in sorted(done, key=lambda r: order[r[0].name]):
        if isinstance(result, RuleQueryError):
            out.errors[rule.name] = str(result)
            continue
        found, n = result
        out.incidents.extend(found)
        out.last_starts.extend(i.window_end - rule.timespan for i in found)
        out.windows_evaluated += n
        out.planned[rule.name] = sorted(set(windows) | neighbours(windows, rule.hop))
    return out


def _run_share(
    store: WindowStore,
    share: Sequence[tuple[CompiledRule, list[datetime]]],
    context: Context,
    scan: Scan | None = None,
) -> list[Any]:
    results: list[Any] = []
    for rule, windows in share:
        try:
            results.append((rule, windows, _evaluate_rule(store, rule, windows, context, scan)))
        except RuleQueryError as e:
            results.append((rule, windows, e))
    return results


def _evaluate_rule(
    store: WindowStore,
    rule: CompiledRule,
    windows: Sequence[datetime],
    context: Context,
    scan: Scan | None = None,
) -> tuple[list[Incident], int]:
    incidents: list[Incident] = []
    evaluated = 0
    fired, n = _fired(store, rule, windows, scan=scan)
    evaluated += n
    runs = find_runs(fired, rule.hop, rule.timespan)
    folded: dict[tuple[str, datetime], int] = {}
    if rule.suppress_for > timedelta(0) and runs:
        runs, folded, n = _suppress(store, rule, runs, scan)
        evaluated += n
    # one row per run: its events counted once, however many of its windows held them
    totals = {
        (str(r["group_key"]), r["window_start"]): r
        for r in match_spans(store, rule, [Span(r.start, r.end, r.group) for r in runs], True, scan)
    }
    for run in runs:
        row = totals.get((run.group, run.start))
        if row is None:  # pragma: no cover - a fired run always has events
            continue
        incidents.append(
            build_incident(
                rule,
                row,
                window_end=run.end,
                context=context,
                suppressed_count=folded.get((run.group, run.start), 0),
            )
        )
    return incidents, evaluated


def _fired(
    store: WindowStore,
    rule: CompiledRule,
    windows: Sequence[datetime],
    group: str | None = None,
    scan: Scan | None = None,
) -> tuple[set[tuple[str, datetime]], int]:
    """Evaluate the windows and their neighbours (for every group, or just ``group``), then
    follow each group's firing windows outwards, for that group only, until every run of
    consecutive firing windows is seen whole."""
    fired: set[tuple[str, datetime]] = set()
    planned = sorted(set(windows) | neighbours(windows, rule.hop))
    everyone = set(planned) if group is None else set()  # windows seen for every group
    seen: set[tuple[str, datetime]] = set()
    todo = [Span(w, w + rule.timespan, group) for w in planned]
    evaluated = 0
    while todo:
        rows = match_spans(store, rule, todo, False, scan)
        evaluated += len(todo)
        now_fired = {(str(r["group_key"]), r["window_start"]) for r in rows} - fired
        fired |= now_fired
        todo = []
        for g, w in sorted(now_fired):
            for n in sorted(neighbours([w], rule.hop)):
                if n in everyone or (g, n) in seen or (g, n) in fired:
                    continue
                seen.add((g, n))
                todo.append(Span(n, n + rule.timespan, g))
    return fired, evaluated


def _suppress(
    store: WindowStore, rule: CompiledRule, runs: list[Run], scan: Scan | None = None
) -> tuple[list[Run], dict[tuple[str, datetime], int], int]:
    """Fold runs of a group less than ``suppress_for`` apart (within a UTC day) into one,
    counting the runs folded in. Incidents already stored count as runs too, and a folded
    span is re-evaluated window by window, so the count does not depend on which batch
    saw which run."""
    lo = min(r.start for r in runs) - rule.suppress_for
    hi = max(r.end for r in runs) + rule.suppress_for
    stored = [
        Run(g, s, e, 1)
        for g, s, e in store.incident_spans(rule.name, {r.group for r in runs}, lo, hi)
    ]
    fresh = set(runs)
    out: list[Run] = []
    folded: dict[tuple[str, datetime], int] = {}
    evaluated = 0
    for chain, count in merge_close([*runs, *stored], rule.suppress_for):
        if count == 1:
            if chain in fresh:
                out.append(chain)
            continue  # a stored incident alone: nothing changes for it
        # the exact runs inside the folded span
        windows = every_window(chain.start, chain.end - rule.timespan, rule.hop)
        fired, n = _fired(store, rule, windows, chain.group, scan)
        evaluated += n
        for piece, pieces in merge_close(
            find_runs(fired, rule.hop, rule.timespan), rule.suppress_for
        ):
            out.append(piece)
            folded[(piece.group, piece.start)] = pieces - 1
    return out, folded, evaluated


def match_spans(
    store: WindowStore,
    rule: CompiledRule,
    spans: Sequence[Span],
    totals: bool,
    scan: Scan | None = None,
) -> list[dict[str, Any]]:
    """Rows of the rule's window query: per span and group, the matches that meet the
    rule's condition (or all of them, ``totals``).

    Spans are queried in clusters of nearby times, each with constant time bounds, so the
    planner reads only the partitions and index ranges they cover. A cluster inside the
    shared ``scan`` reads the scan's matches instead of the events.
    """
    rows: list[dict[str, Any]] = []
    clusters: list[list[Span]] = []
    cluster_end = datetime.min.replace(tzinfo=UTC)
    for span in sorted(spans, key=lambda s: s.start):
        if clusters and span.start - cluster_end <= GAP:
            clusters[-1].append(span)
            cluster_end = max(cluster_end, span.end)
        else:
            clusters.append([span])
            cluster_end = span.end
    for cluster in clusters:
        lo = min(s.start for s in cluster)
        hi = max(s.end for s in cluster)
        column = scan.column(rule, lo, hi) if scan is not None else None
        found = store.match_rule(
            rule.query(totals, column),
            {
                "span_starts": [s.start for s in cluster],
                "span_ends": [s.end for s in cluster],
                "span_groups": [s.group for s in cluster],
                "lo": lo,
                "hi": hi,
            },
        )
        if rule.ordered and not totals:
            needs = [r.min_count for r in rule.refs]
            found = [r for r in found if ordered_match(r["ordered_times"] or [], needs)]
        rows.extend(found)
    return rows
