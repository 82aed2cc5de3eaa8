"""Unit tests for window planning (soc_platform.correlation.windows)."""

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from soc_platform.correlation.windows import (
    EPOCH,
    day_windows,
    merge_windows,
    recent_windows,
    touched_windows,
    window_start,
)

FIVE = timedelta(minutes=5)
PROPS = settings(max_examples=80, deadline=None, database=None)

WIDTHS = st.sampled_from(
    [timedelta(seconds=1), timedelta(minutes=1), FIVE, timedelta(minutes=7), timedelta(hours=1),
     timedelta(days=1), timedelta(seconds=90)]
)  # fmt: skip
INSTANTS = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)


# --------------------------------------------------------------------------------------
# window_start
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ts", "width", "start"),
    [
        (
            datetime(2024, 5, 1, 10, 7, 42, tzinfo=UTC),
            FIVE,
            datetime(2024, 5, 1, 10, 5, tzinfo=UTC),
        ),
        (datetime(2024, 5, 1, 10, 5, tzinfo=UTC), FIVE, datetime(2024, 5, 1, 10, 5, tzinfo=UTC)),
        (
            datetime(2024, 5, 1, 10, 4, 59, 999999, tzinfo=UTC),
            FIVE,
            datetime(2024, 5, 1, 10, 0, tzinfo=UTC),
        ),
        (
            datetime(2024, 5, 1, 23, 59, tzinfo=UTC),
            timedelta(days=1),
            datetime(2024, 5, 1, tzinfo=UTC),
        ),
        # windows are aligned to the epoch, not to the hour: 7-minute windows straddle hours
        (
            datetime(2024, 5, 1, 0, 0, tzinfo=UTC),
            timedelta(minutes=7),
            datetime(2024, 4, 30, 23, 58, tzinfo=UTC),
        ),
        # instants before 1970 floor too
        (
            datetime(1969, 12, 31, 23, 59, tzinfo=UTC),
            FIVE,
            datetime(1969, 12, 31, 23, 55, tzinfo=UTC),
        ),
    ],
)
def test_window_start_examples(ts: datetime, width: timedelta, start: datetime) -> None:
    assert window_start(ts, width) == start


def test_window_start_ignores_the_zone_of_its_input() -> None:
    paris = datetime(2024, 5, 1, 12, 7, tzinfo=ZoneInfo("Europe/Paris"))  # 10:07 UTC
    assert window_start(paris, FIVE) == datetime(2024, 5, 1, 10, 5, tzinfo=UTC)


@PROPS
@given(INSTANTS, WIDTHS)
def test_window_start_contains_ts_and_is_aligned(ts: datetime, width: timedelta) -> None:
    start = window_start(ts, width)
    assert start <= ts < start + width
    assert (start - EPOCH) % width == timedelta(0)


# --------------------------------------------------------------------------------------
# touched_windows
# --------------------------------------------------------------------------------------


def test_touched_windows_distinct_and_sorted() -> None:
    times = pa.array(
        [
            datetime(2024, 5, 1, 10, 9, tzinfo=UTC),
            datetime(2024, 5, 1, 10, 1, tzinfo=UTC),
            datetime(2024, 5, 1, 10, 4, 59, tzinfo=UTC),
            None,
            datetime(2024, 5, 1, 10, 5, tzinfo=UTC),
            datetime(2024, 5, 2, 0, 0, tzinfo=UTC),
        ],
        pa.timestamp("us", tz="UTC"),
    )
    assert touched_windows(times, FIVE) == [
        datetime(2024, 5, 1, 10, 0, tzinfo=UTC),
        datetime(2024, 5, 1, 10, 5, tzinfo=UTC),
        datetime(2024, 5, 2, 0, 0, tzinfo=UTC),
    ]


def test_touched_windows_empty_and_all_null() -> None:
    assert touched_windows(pa.array([], pa.timestamp("us", tz="UTC")), FIVE) == []
    assert touched_windows(pa.array([None, None], pa.timestamp("us", tz="UTC")), FIVE) == []


def test_touched_windows_accepts_chunked_and_other_units() -> None:
    t1 = datetime(2024, 5, 1, 10, 1, tzinfo=UTC)
    t2 = datetime(2024, 5, 1, 10, 11, tzinfo=UTC)
    chunked = pa.chunked_array(
        [
            pa.array([t1], pa.timestamp("us", tz="UTC")),
            pa.array([None, t2], pa.timestamp("us", tz="UTC")),
        ]
    )
    seconds = pa.array([t1, t2], pa.timestamp("s", tz="UTC"))
    other_zone = pa.array([t1, t2], pa.timestamp("ms", tz="Europe/Paris"))
    want = [datetime(2024, 5, 1, 10, 0, tzinfo=UTC), datetime(2024, 5, 1, 10, 10, tzinfo=UTC)]
    assert touched_windows(chunked, FIVE) == want
    assert touched_windows(seconds, FIVE) == want
    assert touched_windows(other_zone, FIVE) == want


@PROPS
@given(st.lists(INSTANTS, max_size=30), WIDTHS)
def test_touched_windows_agrees_with_window_start(times: list[datetime], width: timedelta) -> None:
    arr = pa.array(times, pa.timestamp("us", tz="UTC"))
    got = touched_windows(arr, width)
    assert got == sorted({window_start(t, width) for t in times})
    assert all(w.utcoffset() == timedelta(0) for w in got)


# --------------------------------------------------------------------------------------
# recent_windows
# --------------------------------------------------------------------------------------


def test_recent_windows_example() -> None:
    now = datetime(2024, 5, 1, 10, 12, 30, tzinfo=UTC)
    got = recent_windows(now, timedelta(minutes=10), FIVE)
    assert got == [
        datetime(2024, 5, 1, 10, 0, tzinfo=UTC),
        datetime(2024, 5, 1, 10, 5, tzinfo=UTC),
        datetime(2024, 5, 1, 10, 10, tzinfo=UTC),
    ]


@PROPS
@given(INSTANTS, st.integers(0, 180).map(lambda m: timedelta(minutes=m)), WIDTHS)
def test_recent_windows_are_exactly_those_overlapping_the_lookback(
    now: datetime, lookback: timedelta, width: timedelta
) -> None:
    got = recent_windows(now, lookback, width)
    assert got, "the window holding `now` is always evaluated"
    # contiguous, aligned, increasing
    for a, b in pairwise(got):
        assert b - a == width
    assert (got[0] - EPOCH) % width == timedelta(0)
    # first covers the start of the lookback, last covers now
    assert got[0] <= now - lookback < got[0] + width
    assert got[-1] <= now < got[-1] + width


# --------------------------------------------------------------------------------------
# merge_windows / day_windows
# --------------------------------------------------------------------------------------


def test_merge_windows_sorted_union() -> None:
    a = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    b = datetime(2024, 5, 1, 10, 5, tzinfo=UTC)
    c = datetime(2024, 5, 1, 9, 55, tzinfo=UTC)
    assert merge_windows([b, a], [a, c], iter([b])) == [c, a, b]
    assert merge_windows() == []
    assert merge_windows([], []) == []


def test_day_windows_five_minutes() -> None:
    got = day_windows([date(2024, 5, 1)], FIVE)
    assert len(got) == 288
    assert got[0] == datetime(2024, 5, 1, tzinfo=UTC)
    assert got[-1] == datetime(2024, 5, 1, 23, 55, tzinfo=UTC)


def test_day_windows_dedupes_days_and_sorts() -> None:
    got = day_windows([date(2024, 5, 2), date(2024, 5, 1), date(2024, 5, 2)], timedelta(hours=1))
    assert len(got) == 48
    assert got == sorted(set(got))
    assert got[0] == datetime(2024, 5, 1, tzinfo=UTC)
    assert got[-1] == datetime(2024, 5, 2, 23, tzinfo=UTC)


def test_day_windows_empty() -> None:
    assert day_windows([], FIVE) == []


@settings(PROPS, max_examples=30)
@given(
    st.lists(st.dates(min_value=date(1970, 1, 2), max_value=date(2100, 1, 1)), max_size=3),
    st.sampled_from([FIVE, timedelta(minutes=7), timedelta(seconds=90), timedelta(hours=1)]),
)
def test_day_windows_cover_every_window_overlapping_the_days(
    days: list[date], width: timedelta
) -> None:
    got = day_windows(days, width)
    assert got == sorted(set(got))
    expected: set[datetime] = set()
    for day in set(days):
        lo = datetime(day.year, day.month, day.day, tzinfo=UTC)
        hi = lo + timedelta(days=1)
        cur = window_start(lo, width)
        while cur < hi:
            expected.add(cur)
            cur += width
    assert set(got) == expected
    # every instant of each day falls in one of the windows
    for day in set(days):
        lo = datetime(day.year, day.month, day.day, tzinfo=UTC)
        for probe in (
            lo,
            lo + timedelta(hours=12, seconds=1),
            lo + timedelta(days=1, microseconds=-1),
        ):
            assert window_start(probe, width) in expected
