"""The data-quality checks of the flow, as plain outcomes (Dagster-free; the assets and the
micro-batch job turn them into check results with :func:`soc_platform.flow.keys.check_result`
and :func:`~soc_platform.flow.keys.check_evaluation`)."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from time import sleep
from typing import Any

from soc_platform.correlation.ruleset import RuleSet
from soc_platform.hot.store import HotStore
from soc_platform.incidents.stats import noisy_rules, rule_stats
from soc_platform.lake.iceberg import Lake
from soc_platform.models import FileState
from soc_platform.sources.ledger import LandingLedger


@dataclass(frozen=True)
class CheckOutcome:
    """The result of a data-quality check: whether it passed, why, and its numbers."""

    passed: bool
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)


def check_lake_hot_counts(
    hot: HotStore,
    lake: Lake,
    days: Sequence[date],
    *,
    spans: Sequence[tuple[datetime, datetime]] | None = None,
    retries: int = 2,
    wait_s: float = 3.0,
) -> CheckOutcome:
    """Each day's hot row count equals the lake's (days past the hot retention excepted).

    With ``spans`` (a micro-batch's [first, last] event time per day, see
    :func:`soc_platform.lake.tables.time_spans`) only what the batch touched is counted,
    so the check costs the same on a full day as on an empty one.

    A micro-batch that has appended a day to the lake but not yet loaded it into the hot
    table makes the counts differ for a few seconds, so a mismatch is re-measured
    ``retries`` times ``wait_s`` apart before the check fails.
    """
    todo = hot.retained_days(days)
    if spans is not None:
        return _check_spans(
            hot, lake, [s for s in spans if s[0].date() in set(todo)], retries, wait_s
        )
    mismatched: dict[str, dict[str, int]] = {}
    for attempt in range(retries + 1):
        if attempt:
            sleep(wait_s)
        lake_counts = lake.count_events_by_day(todo)
        hot_counts = hot.count_events_by_day(todo)
        mismatched = {
            d.isoformat(): {"lake": lake_counts.get(d, 0), "hot": hot_counts.get(d, 0)}
            for d in todo
            if lake_counts.get(d, 0) != hot_counts.get(d, 0)
        }
        if not mismatched:
            break
    total = sum(hot_counts.values()) if todo else 0
    meta: dict[str, Any] = {"days_checked": len(todo), "hot_rows": total}
    if mismatched:
        meta["mismatched_days"] = mismatched
        worst = max(mismatched.items(), key=lambda kv: abs(kv[1]["lake"] - kv[1]["hot"]))
        return CheckOutcome(
            False,
            f"{len(mismatched)} of {len(todo)} day(s) differ between lake and hot store, e.g. "
            f"{worst[0]}: lake {worst[1]['lake']:,}, hot {worst[1]['hot']:,} "
            "(rebuild them: soc-platform backfill --start DAY --end DAY)",
            meta,
        )
    return CheckOutcome(True, f"lake and hot store agree on {len(todo)} day(s)", meta)


def _check_spans(
    hot: HotStore,
    lake: Lake,
    spans: Sequence[tuple[datetime, datetime]],
    retries: int,
    wait_s: float,
) -> CheckOutcome:
    wrong: dict[str, dict[str, int]] = {}
    for attempt in range(retries + 1):
        if attempt:
            sleep(wait_s)
        wrong = {}
        for span in spans:
            in_lake, in_hot = lake.count_events_in([span]), hot.count_events_in([span])
            if in_lake != in_hot:
                wrong[f"{span[0].isoformat()}..{span[1].isoformat()}"] = {
                    "lake": in_lake,
                    "hot": in_hot,
                }
        if not wrong:
            break
    meta: dict[str, Any] = {"spans_checked": len(spans)}
    if wrong:
        meta["mismatched_spans"] = wrong
        where, n = max(wrong.items(), key=lambda kv: abs(kv[1]["lake"] - kv[1]["hot"]))
        return CheckOutcome(
            False,
            f"{len(wrong)} of {len(spans)} batch span(s) differ between lake and hot store, "
            f"e.g. {where}: lake {n['lake']:,}, hot {n['hot']:,} "
            "(rebuild the day: soc-platform backfill --start DAY --end DAY)",
            meta,
        )
    return CheckOutcome(True, f"lake and hot store agree on the batch's {len(spans)} span(s)", meta)


def check_lake_day_files(lake: Lake, max_files: int, today: date) -> CheckOutcome:
    """No closed day (before ``today``) of the lake holds more than ``max_files`` data
    files (the lake maintenance job compacts them)."""
    files = lake.files_per_day()
    over = {d.isoformat(): n for d, n in files.items() if d < today and n > max_files}
    meta: dict[str, Any] = {
        "days": len(files),
        "max_files_per_day": max_files,
        "most_files": max(files.values(), default=0),
    }
    if over:
        meta["days_over"] = over
        worst = max(over.items(), key=lambda kv: kv[1])
        return CheckOutcome(
            False,
            f"{len(over)} closed day(s) hold more than {max_files} lake files, e.g. "
            f"{worst[0]}: {worst[1]} (compact them: soc-platform lake maintain)",
            meta,
        )
    return CheckOutcome(True, f"every closed day holds at most {max_files} lake files", meta)


def check_aggregate_totals(hot: HotStore, days: Sequence[date]) -> CheckOutcome:
    """For every refreshed day, each aggregate level's event total equals the base
    table's."""
    wrong: dict[str, dict[str, int]] = {}
    for day in sorted(set(days)):
        totals = hot.aggregate_totals(day)
        if len(set(totals.values())) > 1:
            wrong[day.isoformat()] = totals
    meta: dict[str, Any] = {"days_checked": len(set(days))}
    if wrong:
        meta["mismatched_days"] = wrong
        first_day, totals = next(iter(wrong.items()))
        return CheckOutcome(
            False,
            f"aggregates disagree with waf_events on {len(wrong)} day(s), e.g. {first_day}: "
            + ", ".join(f"{k} {v:,}" for k, v in totals.items()),
            meta,
        )
    return CheckOutcome(True, "every aggregate level matches waf_events", meta)


def check_freshness(hot: HotStore, max_lag: timedelta, now: datetime | None = None) -> CheckOutcome:
    """The newest event in the hot table is at most ``max_lag`` old."""
    now = now or datetime.now(UTC)
    newest = hot.newest_event_time()
    limit = f"{max_lag.total_seconds() / 60:g} min"
    if newest is None:
        return CheckOutcome(False, "the hot table holds no events", {"max_lag_minutes": limit})
    lag = now - newest
    meta: dict[str, Any] = {
        "newest_event": newest.isoformat(),
        "lag_minutes": round(lag.total_seconds() / 60, 1),
        "max_lag": limit,
    }
    if lag > max_lag:
        return CheckOutcome(
            False,
            f"newest event is {lag.total_seconds() / 60:,.1f} min old (limit {limit}): "
            "is the WAF still shipping logs, and the sensor running?",
            meta,
        )
    return CheckOutcome(True, f"newest event is {lag.total_seconds() / 60:,.1f} min old", meta)


def quarantine_check(ledger: LandingLedger) -> CheckOutcome:
    """The ``landing_quarantine_empty`` check: fails while any file is quarantined, naming
    each with where it is and why."""
    entries = ledger.entries([FileState.QUARANTINED, FileState.FAILED])
    held = [f for f in entries if f.state is FileState.QUARANTINED]
    retrying = [f for f in entries if f.state is FileState.FAILED]
    meta: dict[str, object] = {
        "quarantined": [
            {"path": f.path, "moved_to": f.quarantined_to, "reason": f.last_error} for f in held
        ],
        "failed_retrying": len(retrying),
    }
    if not held:
        return CheckOutcome(True, "no landing file is quarantined", meta)
    names = ", ".join(f"{f.path} -> {f.quarantined_to} ({f.last_error})" for f in held[:5])
    more = f" and {len(held) - 5} more" if len(held) > 5 else ""
    return CheckOutcome(
        False,
        f"{len(held)} landing file(s) quarantined: {names}{more}. Their events may be "
        "missing from the hot store (or the lake): fix the cause, then "
        "soc-platform landing release PATH|--all",
        meta,
    )


def rule_set_check(rule_set: RuleSet, run_errors: dict[str, str] | None = None) -> CheckOutcome:
    """Load, conversion and query problems of the rule set (a WARN check: the other rules
    still run)."""
    problems = [str(p) for p in rule_set.problems] + [
        f"{name}: run: {why}" for name, why in sorted((run_errors or {}).items())
    ]
    return CheckOutcome(
        not problems,
        (
            f"{len(rule_set.rules)} rule(s) running"
            if not problems
            else f"{len(problems)} rule problem(s); first: {problems[0]}"
        ),
        {
            "rules_dir": rule_set.root,
            "rules_running": len(rule_set.rules) - len(run_errors or {}),
            "loaded": rule_set.loaded,
            "converted": rule_set.converted,
            "disabled": rule_set.disabled,
            "problems": problems,
        },
    )


def noisy_rules_check(hot: HotStore, max_ratio: float, min_closed: int) -> CheckOutcome:
    """The ``noisy_rules`` check (WARN): no rule has more than ``max_ratio`` of its closed
    incidents (at least ``min_closed`` of them) closed as false positives."""
    with hot.connect() as conn:
        stats = rule_stats(conn)
    noisy = noisy_rules(stats, max_ratio, min_closed)
    meta: dict[str, Any] = {
        "max_fp_ratio": max_ratio,
        "min_closed": min_closed,
        "rules": len(stats),
        "noisy": [s.to_dict() for s in noisy],
    }
    if not noisy:
        return CheckOutcome(True, f"no rule over {max_ratio:.0%} false positives", meta)
    worst = noisy[0]
    return CheckOutcome(
        False,
        f"{len(noisy)} noisy rule(s), e.g. {worst.rule}: {worst.false_positive} of "
        f"{worst.closed} closed incidents were false positives ({worst.fp_ratio:.0%}); tune "
        "it (thresholds, allow-list) or see soc-platform rules stats",
        meta,
    )


def alerts_check(hot: HotStore) -> CheckOutcome:
    """The ``alerts_delivered`` check: fails while any notification is a dead letter (it
    kept failing); ``soc-platform alerts dead`` lists them, ``--retry-all`` sends again."""
    from soc_platform.alerts import outbox

    with hot.connect() as conn:
        counts = outbox.counts(conn)
        dead = outbox.dead_letters(conn, 5) if counts["dead"] else []
    meta: dict[str, object] = dict(counts)
    if not dead:
        return CheckOutcome(True, f"no dead notification ({counts['sent']} sent)", meta)
    first = dead[0]
    return CheckOutcome(
        False,
        f"{counts['dead']} notification(s) could not be delivered; latest: "
        f"{first['destination']} for incident {first['incident_id']}: {first['last_error']}. "
        "Fix the destination, then: soc-platform alerts dead --retry-all",
        meta,
    )


def search_backlog_check(hot: HotStore) -> CheckOutcome:
    """The ``search_backlog_empty`` check (WARN): no incident waits for the search backend
    (search/backlog.py); else how many, and for how long the oldest has waited."""
    from soc_platform.search import backlog

    with hot.connect() as conn:
        found = backlog.summary(conn)
    meta: dict[str, Any] = {
        "pending": found.pending,
        "pending_deletes": found.deletes,
        "oldest_age_s": round(found.oldest_age_s, 1),
    }
    if not found.pending:
        return CheckOutcome(True, "no incident waits for the search backend", meta)
    meta["oldest_queued_at"] = found.oldest.isoformat() if found.oldest else None
    return CheckOutcome(
        False,
        f"{found.pending} incident(s) wait for the search backend, the oldest for "
        f"{_age(found.oldest_age_s)}: is Meilisearch reachable? The next run or "
        "soc-platform search reindex catches up",
        meta,
    )


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
