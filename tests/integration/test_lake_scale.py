"""The lake at scale (issue 12): dedupe and the count check read only the batch's time
spans, and maintenance (compaction, snapshot expiry, orphan removal) keeps it small
without losing a row, even with a micro-batch committing in the middle."""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from soc_platform import faults
from soc_platform.flow import checks, steps
from soc_platform.hot.store import HotStore
from soc_platform.lake.iceberg import RAW_EVENTS, Lake
from soc_platform.lake.tables import time_spans
from soc_platform.parsing import get_parser, split_lines
from tests.helpers import to_jsonl, waf_event

DAY0 = datetime(2026, 3, 10, tzinfo=UTC)


def batch(hour: int, n: int = 5, minute: int = 0, base: datetime = DAY0) -> pa.Table:
    times = [base + timedelta(hours=hour, minutes=minute, seconds=i) for i in range(n)]
    lines = to_jsonl([waf_event(t) for t in times])
    result = get_parser("waf_json")(
        split_lines(lines.encode()), f"h{hour}.jsonl", base + timedelta(days=1)
    )
    return result.events


def test_dedupe_reads_only_the_files_of_the_batch_time_span(lake: Lake) -> None:
    for hour in range(10):
        assert lake.append_events(batch(hour)).appended == 5
    # a batch within hour 5 (one new event, the rest already there): one file overlaps
    again = pa.concat_tables([batch(5), batch(5, n=1, minute=30)])
    result = lake.append_events(again)
    assert (result.appended, result.duplicates) == (1, 5)
    assert result.files_scanned == 1  # before: every file of the day (10)


def test_count_events_in_counts_only_the_spans(lake: Lake) -> None:
    for hour in (1, 2, 3):
        lake.append_events(batch(hour))
    spans = [(DAY0 + timedelta(hours=2), DAY0 + timedelta(hours=2, seconds=4))]
    assert lake.count_events_in(spans) == 5
    assert lake.count_events_in([]) == 0


def test_compaction_keeps_every_row_and_leaves_one_sorted_file(lake: Lake) -> None:
    for hour in (9, 3, 7, 1):  # out of order: the rewrite sorts by event_time
        lake.append_events(batch(hour))
    before = lake.read_events(DAY0.date(), DAY0.date())
    assert lake.files_per_day() == {DAY0.date(): 4}
    result = lake.compact_day(DAY0.date())
    assert (result.files_before, result.files_after, result.rows) == (4, 1, 20)
    after = lake.read_events(DAY0.date(), DAY0.date())
    assert sorted(after["event_id"].to_pylist()) == sorted(before["event_id"].to_pylist())
    times = after["event_time"].to_pylist()
    assert times == sorted(times)
    # and the dedupe still recognises every compacted row
    assert lake.append_events(batch(3)).duplicates == 5


def test_compaction_retries_and_keeps_a_row_appended_concurrently(lake: Lake) -> None:
    for hour in range(4):
        lake.append_events(batch(hour))
    other = Lake(lake.config)  # a second writer: its own catalog connection

    def concurrent_micro_batch() -> None:
        assert other.append_events(batch(12, n=3)).appended == 3

    result = lake.compact_day(DAY0.date(), on_written=concurrent_micro_batch)
    assert result.attempts == 2  # the first commit lost to the micro-batch
    rows = lake.read_events(DAY0.date(), DAY0.date())
    assert rows.num_rows == 4 * 5 + 3
    assert len(set(rows["event_id"].to_pylist())) == 23
    assert lake.files_per_day() == {DAY0.date(): 1}


def test_append_retries_after_a_concurrent_compaction(lake: Lake) -> None:
    for hour in range(3):
        lake.append_events(batch(hour))
    stale = Lake(lake.config)
    stale_table = stale.table(RAW_EVENTS)  # loaded before the compaction commits
    lake.compact_day(DAY0.date())
    txn = stale_table.transaction()
    txn.append(batch(20))
    try:
        txn.commit_transaction()
        raise AssertionError("a stale append must not commit")
    except Exception as exc:  # the optimistic check the retry relies on
        assert "CommitFailed" in type(exc).__name__
    assert stale.append_events(batch(20)).appended == 5
    assert lake.read_events(DAY0.date(), DAY0.date()).num_rows == 20


def test_racing_appends_of_one_batch_store_it_once(
    lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two writers append the same batch and the second commits between the first's data
    files and its catalog commit. The first commit must fail and dedupe again (stored once),
    not be re-applied blindly by pyiceberg's own commit retry (which stored it twice)."""
    other = Lake(lake.config)  # a second writer: its own catalog connection
    events = batch(4, n=6)
    raced: list[int] = []
    real_check = faults.check

    def race_at_the_commit(point: str, files: Sequence[str] = ()) -> None:
        if point == "lake_data_written" and not raced:
            raced.append(-1)  # once: the other writer passes here too
            raced[0] = other.append_events(events).appended
        real_check(point, files)

    monkeypatch.setattr(faults, "check", race_at_the_commit)
    result = lake.append_events(events)
    assert raced == [6]
    assert (result.appended, result.duplicates) == (0, 6)
    rows = lake.read_events(DAY0.date(), DAY0.date())
    assert rows.num_rows == 6
    assert len(set(rows["event_id"].to_pylist())) == 6


def test_expire_then_orphans_remove_unreferenced_files_only(lake: Lake, tmp_path: Path) -> None:
    for hour in range(3):
        lake.append_events(batch(hour))
    lake.compact_day(DAY0.date())
    table = lake.table(RAW_EVENTS)
    # a killed commit: a Parquet file under the table's data folder that nothing references
    data_dir = Path(table.location().removeprefix("file://")) / "data"
    killed = data_dir / "killed-commit.parquet"
    pq.write_table(batch(23), killed)
    snapshots = len(table.snapshots())
    expired = lake.expire_snapshots(timedelta(0))
    assert expired[RAW_EVENTS] == snapshots - 1
    assert len(lake.table(RAW_EVENTS).snapshots()) == 1
    # within the grace period nothing goes (a commit in flight has unreferenced files)
    assert lake.remove_orphans(timedelta(hours=1))[RAW_EVENTS] == []
    removed = lake.remove_orphans(timedelta(0), now=datetime.now(UTC) + timedelta(seconds=5))
    names = {Path(p).name for p in removed[RAW_EVENTS]}
    assert "killed-commit.parquet" in names
    assert not killed.exists()
    # the 3 pre-compaction data files went too; the table reads whole
    assert sum(n.endswith(".parquet") for n in names) == 4
    assert lake.read_events(DAY0.date(), DAY0.date()).num_rows == 15
    assert lake.files_per_day() == {DAY0.date(): 1}


def test_batch_span_count_check_sees_only_the_batch_and_catches_a_loss(
    lake: Lake, pg_dsn: str
) -> None:
    hot = HotStore(pg_dsn)
    hot.setup()
    # a recent day: within the hot retention
    base = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)
    day_before = batch(1, n=20, base=base)
    lake.append_events(day_before)
    steps.load_hot(hot, day_before)
    # the hot store lost an event outside the batch: the batch's check does not read it
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(
            "DELETE FROM waf_events WHERE event_id = %s", (day_before["event_id"][0].as_py(),)
        )
    new = batch(15, n=7, base=base)
    lake.append_events(new)
    steps.load_hot(hot, new)
    spans = time_spans(new["event_time"])
    outcome = checks.check_lake_hot_counts(hot, lake, [base.date()], spans=spans, retries=0)
    assert outcome.passed, outcome.description
    assert outcome.metadata["spans_checked"] == 1
    # a loss inside the batch's span fails it
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("DELETE FROM waf_events WHERE event_id = %s", (new["event_id"][3].as_py(),))
    outcome = checks.check_lake_hot_counts(hot, lake, [base.date()], spans=spans, retries=0)
    assert not outcome.passed
    assert list(outcome.metadata["mismatched_spans"].values()) == [{"lake": 7, "hot": 6}]
    # the whole-day check (no spans) still sees both
    whole = checks.check_lake_hot_counts(hot, lake, [base.date()], retries=0)
    assert whole.metadata["mismatched_days"] == {base.date().isoformat(): {"lake": 27, "hot": 25}}


def test_day_files_check_fails_on_a_closed_day_over_the_limit(lake: Lake) -> None:
    for hour in range(4):
        lake.append_events(batch(hour))
    today = DAY0.date()
    assert checks.check_lake_day_files(lake, 3, today).passed  # the open day is spared
    outcome = checks.check_lake_day_files(lake, 3, today + timedelta(days=1))
    assert not outcome.passed
    assert outcome.metadata["days_over"] == {today.isoformat(): 4}
    assert "soc-platform lake maintain" in outcome.description
    lake.compact_day(today)
    assert checks.check_lake_day_files(lake, 3, today + timedelta(days=1)).passed
