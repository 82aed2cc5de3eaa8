"""The correlation engine bound to the hot store: the algorithm of
:mod:`soc_platform.correlation.evaluate` run under the correlation lock, its incidents
stored (and those it no longer finds retired).

"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime

import pyarrow as pa

from soc_platform import faults
from soc_platform.correlation.detection import Detection, default_detection
from soc_platform.correlation.evaluate import Evaluation, evaluate, plan_days, plan_touched
from soc_platform.correlation.incidents import search_text
from soc_platform.hot.store import HotStore
from soc_platform.models import Incident


@dataclass
class CorrelationReport:
    windows_evaluated: int
    incidents: list[Incident]
    changed: int
    per_rule: dict[str, int]
    superseded: list[str] = field(default_factory=list)  # ids merged into other incidents
    suppressed: int = 0  # incidents kept as suppressed (allow-listed)
    rule_errors: dict[str, str] = field(default_factory=dict)  # rules whose query failed


def correlate(
    hot: HotStore,
    event_times: pa.Array | pa.ChunkedArray,
    detection: Detection | None = None,
    *,
    now: datetime | None = None,
) -> CorrelationReport:
    """Evaluate every rule (default: the built-in pack) over the windows the new events
    touched, plus its lookback."""
    now = now or datetime.now(UTC)
    detection = detection or default_detection()
    plan = plan_touched(detection.rules.rules, event_times, now)
    with hot.correlation_lock():
        found = evaluate(hot, plan, detection.context)
        return _store(hot, found)


def correlate_days(
    hot: HotStore, days: Sequence[date], detection: Detection | None = None
) -> CorrelationReport:
    """Re-evaluate every window of ``days`` (reprocessing and backfills); incidents of those
    days the evaluation does not find again are retired."""
    detection = detection or default_detection()
    # days past the raw retention have no hot rows left: re-evaluating them would retire
    # every incident they hold
    days = hot.retained_days(days)
    if not days:
        return CorrelationReport(0, [], 0, {})
    # one correlation at a time: a backfill retiring what a concurrent micro-batch just
    # found (from events the backfill did not see) would lose it
    with hot.correlation_lock():
        found = evaluate_days(hot, days, detection)
        # runs never cross midnight UTC, so the days' incidents are exactly those whose
        # first window starts in them; a rule whose query failed retires nothing
        names = [r.name for r in detection.rules.rules if r.name not in found.errors]
        return _store(hot, found, retire=(names, days))


def evaluate_days(hot: HotStore, days: Sequence[date], detection: Detection) -> Evaluation:
    """The incidents the rules find over whole days, without storing them."""
    return evaluate(hot, plan_days(detection.rules.rules, days), detection.context)


def _store(
    hot: HotStore,
    found: Evaluation,
    retire: tuple[list[str], list[date]] | None = None,
) -> CorrelationReport:
    faults.check("correlation_rule")  # every rule evaluated, no incident stored
    incidents = found.incidents
    per_rule: dict[str, int] = defaultdict(int)
    for inc in incidents:
        per_rule[inc.rule] += 1
    result = hot.upsert_incidents(
        incidents,
        [search_text(i) for i in incidents],
        retire=retire,
        last_starts=found.last_starts,
        retire_windows=[(rule, windows) for rule, windows in found.planned.items()],
    )
    # the index shows the stored status (an analyst's), not the one the rules computed
    incidents = [replace(i, status=result.statuses.get(i.id, i.status)) for i in incidents]
    return CorrelationReport(
        found.windows_evaluated,
        incidents,
        result.changed,
        dict(per_rule),
        result.superseded,
        sum(1 for i in incidents if i.status == "suppressed"),
        dict(found.errors),
    )
