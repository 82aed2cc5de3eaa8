"""Which windows a batch of events touches: exactly those get (re-)evaluated."""

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta

import pyarrow as pa
import pyarrow.compute as pc

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def window_start(ts: datetime, width: timedelta) -> datetime:
    """Start of the fixed window holding ``ts``, windows being aligned to the Unix epoch."""
    return EPOCH + ((ts - EPOCH) // width) * width


def touched_windows(times: pa.Array | pa.ChunkedArray, width: timedelta) -> list[datetime]:
    """Distinct window starts of a timestamp column (vectorised)."""
    if len(times) == 0:
        return []
    micros = width // timedelta(microseconds=1)
    as_int = pc.cast(pc.cast(times, pa.timestamp("us", tz="UTC")), pa.int64())
    # integer division truncates toward zero: exact floor for instants after 1970
    floored = pc.multiply(pc.divide(as_int, micros), micros)
    starts = pc.unique(floored).to_pylist()
    return sorted(EPOCH + timedelta(microseconds=v) for v in starts if v is not None)


def recent_windows(now: datetime, lookback: timedelta, width: timedelta) -> list[datetime]:
    """Windows overlapping the last ``lookback`` before ``now``."""
    first = window_start(now - lookback, width)
    out = []
    cur = first
    while cur <= now:
        out.append(cur)
        cur += width
    return out


def merge_windows(*groups: Iterable[datetime]) -> list[datetime]:
    return sorted({w for group in groups for w in group})


def day_windows(days: Iterable[date], width: timedelta) -> list[datetime]:
    """Every window starting within the given UTC days (for re-evaluating whole days)."""
    out: list[datetime] = []
    for day in sorted(set(days)):
        lo = datetime.combine(day, time.min, UTC)
        hi = lo + timedelta(days=1)
        cur = window_start(lo, width)
        while cur < hi:
            out.append(cur)
            cur += width
    return merge_windows(out)


def window_runs(windows: Sequence[datetime], max_gap: timedelta) -> list[list[datetime]]:
    """Split sorted window starts into runs whose neighbours are at most ``max_gap`` apart.

    Each run is evaluated with tight time bounds, so a batch holding a few late events of
    last week does not make the rule scan every day in between.
    """
    runs: list[list[datetime]] = []
    for start in sorted(windows):
        if runs and start - runs[-1][-1] <= max_gap:
            runs[-1].append(start)
        else:
            runs.append([start])
    return runs
