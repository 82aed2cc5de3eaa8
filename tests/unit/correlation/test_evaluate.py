"""Unit tests for the correlation algorithm (soc_platform.correlation.evaluate), without a
database.

The algorithm talks to a store only through the ``WindowStore`` protocol. ``MemoryStore``
below implements it over a list of the rule's matching events in memory (the SQL of the
rule's predicate is what the integration suites test against PostgreSQL): it answers a
window query with the (window, group) pairs whose event count meets the rule's threshold,
or with each run's totals. What is under test is the algorithm: which windows it plans,
how it follows firing windows outwards, how runs become incidents, suppression, errors.
"""

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

from soc_platform.correlation.assets_map import AssetCriticality
from soc_platform.correlation.compiler import CompiledRule, scan_queries
from soc_platform.correlation.config import DetectionConfig
from soc_platform.correlation.detection import default_detection
from soc_platform.correlation.evaluate import (
    Evaluation,
    WindowStore,
    evaluate,
    plan_days,
    plan_touched,
    scan_spans,
)
from soc_platform.correlation.incidents import Context
from soc_platform.errors import RuleQueryError

RULE = default_detection().rules.rule("waf-sqli-burst")  # >= 10 in 5 min per c-ip, hop 1 min
CTX = Context(DetectionConfig(rules={}), AssetCriticality())
DAY = date(2024, 5, 1)
T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
S = timedelta(seconds=1)
M = timedelta(minutes=1)


@dataclass(frozen=True)
class Hit:
    time: datetime
    ip: str
    target: str = "shop.example.com/login"


@dataclass
class MemoryStore:
    """The rule's matching events and stored incident spans, in memory."""

    rule: CompiledRule
    hits: list[Hit]
    stored: list[tuple[str, str, datetime, datetime]] = field(default_factory=list)
    refuse: bool = False
    queries: int = 0

    def match_rule(self, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.refuse:
            raise RuleQueryError("invalid regular expression: quantifier operand invalid")
        self.queries += 1
        totals = query == self.rule.query(True)
        assert totals or query == self.rule.query(False)  # the rule's own queries only
        lo, hi = params["lo"], params["hi"]
        rows = []
        for start, end, group in zip(
            params["span_starts"], params["span_ends"], params["span_groups"], strict=True
        ):
            assert lo <= start and end <= hi  # the call's bounds cover its spans
            by_group: dict[str, list[Hit]] = {}
            for h in self.hits:
                if start <= h.time < end and group in (None, h.ip):
                    by_group.setdefault(h.ip, []).append(h)
            for ip, hits in sorted(by_group.items()):
                if not totals and len(hits) < self.rule.threshold:
                    continue
                targets = sorted({h.target for h in hits})
                rows.append(
                    {
                        "group_key": ip,
                        "window_start": start,
                        "event_count": len(hits),
                        "blocked_count": len(hits),
                        "start_time": min(h.time for h in hits),
                        "end_time": max(h.time for h in hits),
                        "targets": targets,
                        "target_count": len(targets),
                        "rule_ids": ["942100"],
                        "sources": [ip],
                        "source_count": 1,
                    }
                )
        return rows

    def incident_spans(
        self, rule: str, group_keys: Iterable[str], start: datetime, end: datetime
    ) -> list[tuple[str, datetime, datetime]]:
        groups = set(group_keys)
        return [
            (g, s, e)
            for r, g, s, e in self.stored
            if r == rule and g in groups and e > start and s < end
        ]

    def clone(self) -> "MemoryStore":
        return self

    @contextmanager
    def reading(self) -> Iterator[None]:
        yield

    @contextmanager
    def scanning(
        self, create: str, fill: str, spans: Sequence[tuple[datetime, datetime]]
    ) -> Iterator[bool]:
        yield False  # no shared scan: every query is the rule's own


def burst(ip: str, start: datetime, count: int, every: timedelta = 10 * S) -> list[Hit]:
    return [Hit(start + i * every, ip) for i in range(count)]


def run(store: WindowStore, windows: list[datetime]) -> Evaluation:
    return evaluate(store, {RULE: windows}, CTX, workers=1)


def test_memory_store_satisfies_the_protocol() -> None:
    store: WindowStore = MemoryStore(RULE, [])
    assert run(store, [T0]).incidents == []


def test_a_burst_is_one_incident_whatever_windows_fire() -> None:
    """12 hits within 2 minutes fire several overlapping windows: one run, one incident
    whose counts are the run's events, each counted once."""
    store = MemoryStore(RULE, burst("10.0.0.1", T0 + 30 * S, 12))
    plan = plan_touched([RULE], pa.array([h.time for h in store.hits]), now=T0 + 2 * M)
    found = run(store, plan[RULE])
    assert [(i.client_ip, i.event_count) for i in found.incidents] == [("10.0.0.1", 12)]
    inc = found.incidents[0]
    # the first window holding all 12 hits starts at 10:00 minus 4 minutes at most; the run
    # is the consecutive firing windows, from the first to the last
    fired = {
        w
        for w in found.planned[RULE.name]
        if 12 <= len([h for h in store.hits if w <= h.time < w + RULE.timespan])
    }
    assert inc.window_start == min(fired)
    assert inc.window_end == max(fired) + RULE.timespan
    assert found.last_starts == [max(fired)]
    assert found.errors == {}


def test_below_the_threshold_nothing_fires() -> None:
    store = MemoryStore(RULE, burst("10.0.0.1", T0, 9))
    assert run(store, [T0 - 2 * M, T0, T0 + M]).incidents == []


def test_only_the_group_that_meets_the_threshold() -> None:
    store = MemoryStore(RULE, [*burst("10.0.0.1", T0, 10), *burst("10.0.0.2", T0, 9)])
    found = run(store, [T0])
    assert [i.group_key for i in found.incidents] == ["10.0.0.1"]


def test_a_run_is_followed_outwards_from_any_window() -> None:
    """An attack going on for 40 minutes is one run: evaluating a single window in its
    middle (a late event) finds the same incident as evaluating the whole day."""
    store = MemoryStore(RULE, burst("10.0.0.1", T0, 240, every=10 * S))
    whole_day = run(store, plan_days([RULE], [DAY])[RULE])
    one_window = run(store, [T0 + 20 * M])
    assert len(whole_day.incidents) == 1
    assert [(i.id, i.window_start, i.window_end, i.event_count) for i in one_window.incidents] == [
        (i.id, i.window_start, i.window_end, i.event_count) for i in whole_day.incidents
    ]
    assert one_window.incidents[0].event_count == 240
    # following one group's run costs far fewer window evaluations than the whole day
    assert one_window.windows_evaluated < whole_day.windows_evaluated


def test_runs_end_at_midnight_utc() -> None:
    """A run never crosses midnight UTC: an attack over midnight is two incidents."""
    midnight = datetime(2024, 5, 2, tzinfo=UTC)
    store = MemoryStore(RULE, burst("10.0.0.1", midnight - 10 * M, 120, every=10 * S))
    found = run(store, plan_days([RULE], [DAY, DAY + timedelta(days=1)])[RULE])
    starts = sorted(i.window_start for i in found.incidents)
    assert len(starts) == 2
    assert starts[0] < midnight <= starts[1]
    # the first run's windows all start before midnight (the last one may reach past it)
    first = min(found.incidents, key=lambda i: i.window_start)
    assert first.window_end - RULE.timespan < midnight


def test_a_refused_rule_query_is_an_error_not_a_failure() -> None:
    store = MemoryStore(RULE, burst("10.0.0.1", T0, 12), refuse=True)
    found = run(store, [T0])
    assert found.incidents == []
    assert "quantifier" in found.errors[RULE.name]
    assert RULE.name not in found.planned


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_results_do_not_depend_on_the_workers(workers: int) -> None:
    """Rules are shared among workers; the incidents come out in rule order."""
    rules = [replace(RULE, name=f"burst-{n}") for n in range(4)]
    hits = burst("10.0.0.1", T0, 12)
    store = MultiStore({r.name: MemoryStore(r, hits) for r in rules})
    found = evaluate(store, {r: [T0] for r in rules}, CTX, workers=workers)
    assert [(i.rule, i.event_count) for i in found.incidents] == [(r.name, 12) for r in rules]
    assert found.windows_evaluated == sum(
        run(MemoryStore(r, hits), [T0]).windows_evaluated for r in rules
    )


def test_a_shared_scan_serves_every_rule_and_changes_nothing() -> None:
    """With a shared scan, every rule's queries read the scan (their time bounds lie inside
    its spans, which cover the planned windows and their neighbours), and the incidents
    are those of the rules reading the events each."""
    rules = [replace(RULE, name=f"burst-{n}", hop=timedelta(minutes=n + 1)) for n in range(3)]
    hits = burst("10.0.0.1", T0, 12) + burst("10.0.0.2", T0 + 40 * M, 30, every=S)
    plan = {r: [T0, T0 + 40 * M] for r in rules}
    alone = evaluate(MultiStore({r.name: MemoryStore(r, hits) for r in rules}), plan, CTX)
    store = MultiStore({r.name: MemoryStore(r, hits) for r in rules}, scan=True)
    shared = evaluate(store, plan, CTX, shared=True)
    assert (alone.scanned, shared.scanned) == (0, 1)
    assert replace(shared, scanned=0) == alone
    assert len(alone.incidents) >= 3
    assert store.scanned and store.unscanned == 0  # same queries for these rules: any name
    assert store.spans == scan_spans(plan)
    unshared = MultiStore({r.name: MemoryStore(r, hits) for r in rules}, scan=True)
    assert evaluate(unshared, plan, CTX) == alone
    assert unshared.scanned == [] and unshared.unscanned > 0


def test_scan_spans_merge_nearby_windows_and_keep_far_ones_apart() -> None:
    near = {RULE: [T0, T0 + 30 * M]}
    assert len(scan_spans(near)) == 1
    lo, hi = scan_spans(near)[0]
    assert lo < T0 and hi > T0 + 30 * M + RULE.timespan
    far = {RULE: [T0, T0 + timedelta(days=1)]}
    assert len(scan_spans(far)) == 2
    assert scan_spans({}) == []


@dataclass
class MultiStore:
    """One memory store per rule (the store answers a query of any of them)."""

    by_rule: dict[str, MemoryStore]
    scan: bool = False  # offer a shared scan (its queries answered from the same hits)
    scanned: list[str] = field(default_factory=list)  # rules whose scan query was asked
    unscanned: int = 0  # queries of the events themselves
    spans: list[tuple[datetime, datetime]] = field(default_factory=list)

    def _store(self, query: str) -> MemoryStore:
        return next(
            s for s in self.by_rule.values() if query in (s.rule.query(True), s.rule.query(False))
        )

    def match_rule(self, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        columns = scan_queries([s.rule for s in self.by_rule.values()]).columns
        for s in self.by_rule.values():
            column = columns[s.rule.name]
            if query in (s.rule.query(True, column), s.rule.query(False, column)):
                assert self.scan and any(
                    lo <= params["lo"] and params["hi"] <= hi for lo, hi in self.spans
                )
                self.scanned.append(s.rule.name)
                own = s.rule.query(query == s.rule.query(True, column))
                return s.match_rule(own, params)
        self.unscanned += 1
        return self._store(query).match_rule(query, params)

    @contextmanager
    def scanning(
        self, create: str, fill: str, spans: Sequence[tuple[datetime, datetime]]
    ) -> Iterator[bool]:
        self.spans = list(spans)
        yield self.scan

    def incident_spans(
        self, rule: str, group_keys: Iterable[str], start: datetime, end: datetime
    ) -> list[tuple[str, datetime, datetime]]:
        return self.by_rule[rule].incident_spans(rule, group_keys, start, end)

    def clone(self) -> "MultiStore":
        return self

    @contextmanager
    def reading(self) -> Iterator[None]:
        yield


def test_suppression_folds_runs_and_counts_them() -> None:
    """With a suppression period, a group's runs less than that apart are one incident
    that counts the runs folded into it; a stored incident counts as a run too."""
    quiet = replace(RULE, suppress_for=timedelta(hours=1))
    first = burst("10.0.0.1", T0, 12)
    second = burst("10.0.0.1", T0 + 30 * M, 12)
    store = MemoryStore(quiet, [*first, *second])
    found = evaluate(store, {quiet: [T0, T0 + 30 * M]}, CTX, workers=1)
    assert len(found.incidents) == 1
    assert found.incidents[0].suppressed_count == 1
    assert found.incidents[0].event_count == 24

    # without the suppression period: two incidents
    store = MemoryStore(RULE, [*first, *second])
    assert len(run(store, [T0, T0 + 30 * M]).incidents) == 2


def test_a_stored_incident_folds_a_new_run() -> None:
    """A run less than the suppression period after an incident stored by an earlier
    batch is folded with it: the incident starts at the stored run, counting two runs."""
    quiet = replace(RULE, suppress_for=timedelta(hours=1))
    first = burst("10.0.0.1", T0, 12)
    second = burst("10.0.0.1", T0 + 30 * M, 12)
    earlier = evaluate(MemoryStore(quiet, first), {quiet: [T0]}, CTX, workers=1).incidents
    assert len(earlier) == 1
    store = MemoryStore(
        quiet,
        [*first, *second],
        stored=[(quiet.name, "10.0.0.1", earlier[0].window_start, earlier[0].window_end)],
    )
    later = evaluate(store, {quiet: [T0 + 30 * M]}, CTX, workers=1).incidents
    assert [(i.window_start, i.suppressed_count) for i in later] == [(earlier[0].window_start, 1)]
