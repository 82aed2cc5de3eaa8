"""Consecutive firing windows of one rule and group become one incident.

With windows starting every minute, a burst fires in several overlapping windows; an attack
that goes on fires window after window. Either way the analyst wants one incident. A run is
a maximal sequence of firing windows of one group, each starting one hop after the previous,
within one UTC day (the day bound keeps runs, and so the work to find them, finite, and
makes them independent of where an evaluation starts). The incident of a run is identified
by its first window, so when late events extend a run backwards or join two runs, the new
incident supersedes the ones whose first window now lies inside it.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True, order=True)
class Run:
    """A group's run of firing windows: from the first window's start to the last's end."""

    group: str
    start: datetime
    end: datetime
    windows: int


def _same_day(a: datetime, b: datetime) -> bool:
    # UTC days, whatever zone the times are in (window starts read back from PostgreSQL
    # come in the session's time zone)
    return a.astimezone(UTC).date() == b.astimezone(UTC).date()


def neighbours(windows: Iterable[datetime], hop: timedelta) -> set[datetime]:
    """The windows starting one hop before and after each window, within its UTC day."""
    out: set[datetime] = set()
    for w in windows:
        for n in (w - hop, w + hop):
            if _same_day(n, w):
                out.add(n)
    return out


def find_runs(fired: Iterable[tuple[str, datetime]], hop: timedelta, width: timedelta) -> list[Run]:
    """Group firing (group, window start) pairs into runs."""
    by_group: dict[str, set[datetime]] = defaultdict(set)
    for group, start in fired:
        by_group[group].add(start)
    runs: list[Run] = []
    for group, starts in by_group.items():
        ordered = sorted(starts)
        first = prev = ordered[0]
        count = 1
        for start in ordered[1:]:
            if start - prev == hop and _same_day(prev, start):
                prev, count = start, count + 1
                continue
            runs.append(Run(group, first, prev + width, count))
            first = prev = start
            count = 1
        runs.append(Run(group, first, prev + width, count))
    return sorted(runs, key=lambda r: (r.start, r.group))


def merge_close(runs: Iterable[Run], gap: timedelta) -> list[tuple[Run, int]]:
    """Fold runs of a group that start at most ``gap`` after the previous one ended (within
    its UTC day) into one: (the folded run, how many runs it holds)."""
    by_group: dict[str, list[Run]] = defaultdict(list)
    for run in set(runs):
        by_group[run.group].append(run)
    out: list[tuple[Run, int]] = []
    for group, items in by_group.items():
        items.sort(key=lambda r: (r.start, r.end))
        cur, count = items[0], 1
        for run in items[1:]:
            if run.start - cur.end <= gap and _same_day(cur.start, run.start):
                cur = Run(group, cur.start, max(cur.end, run.end), cur.windows + run.windows)
                count += 1
                continue
            out.append((cur, count))
            cur, count = run, 1
        out.append((cur, count))
    return sorted(out, key=lambda rc: (rc[0].start, rc[0].group))
