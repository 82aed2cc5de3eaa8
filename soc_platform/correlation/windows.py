"""Which windows a batch of events touches: exactly those get (re-)evaluated.

Windows are ``width`` long and start every ``hop`` (aligned to the Unix epoch): with
``hop < width`` they overlap ("hopping" windows), so a burst shorter than
``width - hop`` lies whole inside some window wherever it falls. ``hop`` defaults to
``width`` (fixed, non-overlapping windows).
"""

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from soc_platform.days import day_range

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def window_start(ts: datetime, width: timedelta) -> datetime:
    """Start of the fixed window holding ``ts``, windows being aligned to the Unix epoch."""
    return EPOCH + ((ts - EPOCH) // width) * width


def touched_windows(
    times: pa.Array | pa.ChunkedArray, width: timedelta, hop: timedelta | None = None
) -> list[datetime]:
    """Starts of every window that holds one of the times (vectorised over the times)."""
    hop = hop or width
    if len(times) == 0:
        return []
    micros = hop // timedelta(microseconds=1)
    as_int = pc.cast(pc.cast(times, pa.timestamp("us", tz="UTC")), pa.int64())
    # integer division truncates toward zero: exact floor for instants after 1970
    floored = pc.multiply(pc.divide(as_int, micros), micros)
    starts = pc.unique(floored).to_pylist()
    per_time = range(max(1, width // hop))  # windows starting up to width - hop earlier
    return sorted(
        {
            EPOCH + timedelta(microseconds=v) - k * hop
            for v in starts
            if v is not None
            for k in per_time
        }
    )


def recent_windows(
    now: datetime, lookback: timedelta, width: timedelta, hop: timedelta | None = None
) -> list[datetime]:
    """Windows overlapping the last ``lookback`` before ``now``."""
    hop = hop or width
    return every_window(window_start(now - lookback - width + hop, hop), now, hop)


def every_window(first: datetime, last: datetime, hop: timedelta) -> list[datetime]:
    """Window starts from ``first`` to ``last`` (inclusive), ``hop`` apart."""
    out = []
    cur = first
    while cur <= last:
        out.append(cur)
        cur += hop
    return out


def merge_windows(*groups: Iterable[datetime]) -> list[datetime]:
    return sorted({w for group in groups for w in group})


def day_windows(
    days: Iterable[date], width: timedelta, hop: timedelta | None = None
) -> list[datetime]:
    """Every window starting within the given UTC days (for re-evaluating whole days)."""
    hop = hop or width
    out: list[datetime] = []
    for day in sorted(set(days)):
        lo, hi = day_range(day)
        cur = window_start(lo, hop)
        while cur < hi:
            out.append(cur)
            cur += hop
    return merge_windows(out)
