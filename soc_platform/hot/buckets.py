"""Time buckets a load touched, as ranges to refresh (pure logic).

Aggregates are refreshed by bucket for exactly the buckets a load or rebuild touched: the
distinct minutes of its events become minute-aligned ranges [lo, hi), which widen to hour
and day ranges for the coarser levels.
"""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Range = tuple[datetime, datetime]


def floor(t: datetime, width: timedelta) -> datetime:
    """``t`` rounded down to a multiple of ``width`` since the Unix epoch (UTC)."""
    return t - (t - _EPOCH) % width


def touched_minutes(times: pa.Array | pa.ChunkedArray) -> list[datetime]:
    """The distinct minute buckets of ``times`` (timestamps with a time zone), sorted."""
    if len(times) == 0:
        return []
    minutes = pc.unique(pc.floor_temporal(times, unit="minute"))
    return sorted(m.replace(tzinfo=UTC) if m.tzinfo is None else m for m in minutes.to_pylist())


def to_ranges(starts: Iterable[datetime], width: timedelta) -> list[Range]:
    """Buckets of ``width`` starting at ``starts`` as sorted, merged [lo, hi) ranges."""
    return widen(((s, s + width) for s in starts), width)


def widen(ranges: Iterable[Range], width: timedelta) -> list[Range]:
    """``ranges`` widened outwards to ``width`` boundaries, merged."""
    out: list[Range] = []
    for lo, hi in sorted(ranges):
        lo, hi = floor(lo, width), floor(hi - timedelta(microseconds=1), width) + width
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(hi, out[-1][1]))
        else:
            out.append((lo, hi))
    return out


def cap(ranges: list[Range], limit: int) -> list[Range]:
    """Merge the closest neighbours until at most ``limit`` ranges remain (fewer refresh
    calls; refreshing the gaps between them is harmless, just extra work)."""
    out = sorted(ranges)
    while len(out) > max(limit, 1):
        gaps = [(out[i + 1][0] - out[i][1], i) for i in range(len(out) - 1)]
        _, i = min(gaps)
        out[i : i + 2] = [(out[i][0], max(out[i][1], out[i + 1][1]))]
    return out
