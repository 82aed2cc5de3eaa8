"""Runs of firing windows (pure)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from soc_platform.correlation.runs import Run, find_runs, neighbours

MIN = timedelta(minutes=1)
FIVE = timedelta(minutes=5)
T = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def test_consecutive_windows_of_a_group_form_one_run() -> None:
    fired = [("a", T), ("a", T + MIN), ("a", T + 2 * MIN), ("b", T + MIN)]
    assert find_runs(fired, MIN, FIVE) == [
        Run("a", T, T + 2 * MIN + FIVE, 3),
        Run("b", T + MIN, T + MIN + FIVE, 1),
    ]


def test_a_gap_splits_runs() -> None:
    fired = [("a", T), ("a", T + 2 * MIN)]
    assert find_runs(fired, MIN, FIVE) == [
        Run("a", T, T + FIVE, 1),
        Run("a", T + 2 * MIN, T + 2 * MIN + FIVE, 1),
    ]


def test_runs_stop_at_midnight() -> None:
    midnight = datetime(2026, 3, 11, tzinfo=UTC)
    fired = [("a", midnight - MIN), ("a", midnight)]
    runs = find_runs(fired, MIN, FIVE)
    assert [r.start for r in runs] == [midnight - MIN, midnight]


def test_neighbours_stay_in_the_day() -> None:
    midnight = datetime(2026, 3, 11, tzinfo=UTC)
    assert neighbours([midnight], MIN) == {midnight + MIN}
    assert neighbours([T], MIN) == {T - MIN, T + MIN}
    assert find_runs([], MIN, FIVE) == []


def test_runs_and_neighbours_follow_the_utc_day_in_any_zone() -> None:
    """Window starts read back from PostgreSQL carry the session's zone: a run still ends
    at midnight UTC, not at midnight there."""
    zone = ZoneInfo("Asia/Kathmandu")  # +05:45
    local_midnight = datetime(2026, 3, 11, tzinfo=zone)  # 18:15 UTC on the 10th
    across_local = [("a", local_midnight - MIN), ("a", local_midnight)]
    assert [r.windows for r in find_runs(across_local, MIN, FIVE)] == [2]
    assert neighbours([local_midnight], MIN) == {local_midnight - MIN, local_midnight + MIN}
    utc_midnight = datetime(2026, 3, 11, tzinfo=UTC).astimezone(zone)  # 05:45 there
    across_utc = [("a", utc_midnight - MIN), ("a", utc_midnight)]
    assert [r.start for r in find_runs(across_utc, MIN, FIVE)] == [utc_midnight - MIN, utc_midnight]
    assert neighbours([utc_midnight], MIN) == {utc_midnight + MIN}
