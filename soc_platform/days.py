"""UTC days: the one helper for a day's bounds, and the days of a timestamp column (pure).

Every day in soc-platform is a UTC day: partitions, hot-store day locks and partitions,
correlation runs (which end at midnight UTC) and retention.
"""

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

import pyarrow as pa
import pyarrow.compute as pc

DAY = timedelta(days=1)


def day_start(day: date) -> datetime:
    """Midnight UTC at the start of ``day``."""
    return datetime.combine(day, time.min, UTC)


def day_range(day: date) -> tuple[datetime, datetime]:
    """[``day`` 00:00 UTC, the next day 00:00 UTC)."""
    lo = day_start(day)
    return lo, lo + DAY


def days_range(days: Iterable[date]) -> tuple[datetime, datetime]:
    """[first day 00:00 UTC, the day after the last 00:00 UTC)."""
    ordered = sorted(days)
    return day_start(ordered[0]), day_start(ordered[-1]) + DAY


def each_day(lo: datetime, hi: datetime) -> list[datetime]:
    """The day starts from ``lo`` (a midnight) up to ``hi``, exclusive."""
    return [lo + timedelta(days=i) for i in range((hi - lo).days)]


def event_days(times: pa.Array | pa.ChunkedArray) -> list[date]:
    """The distinct UTC days of a timestamp column, sorted."""
    if len(times) == 0:
        return []
    days = pc.unique(pc.cast(pc.floor_temporal(times, unit="day"), pa.date32()))
    return sorted(d for d in days.to_pylist() if d is not None)
