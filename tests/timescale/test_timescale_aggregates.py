"""TimescaleDB dialect: aggregate refresh of the touched buckets, compressed chunks taking
late rows, and the retention, compression and refresh policies run with ``run_job`` (this
server has no background scheduler)."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

from soc_platform.flow import checks
from soc_platform.hot.store import HotPolicy, HotStore
from soc_platform.parsing import get_parser, split_lines
from tests.helpers import sqli_burst, to_jsonl, waf_event
from tests.timescale.pglite import connect, hot_store, insert_and_refresh, insert_events

pytestmark = pytest.mark.timescale

DAY = date(2026, 3, 10)
LEVELS = ("waf_events", "waf_events_1m", "waf_events_1h", "waf_events_daily_summary")


def at(day: date, hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=UTC)


def parse(records: list[dict[str, Any]]) -> pa.Table:
    result = get_parser("waf_json")(split_lines(to_jsonl(records).encode()), "t", datetime.now(UTC))
    assert result.dead_letters.num_rows == 0
    return result.events


def rows(dsn: str, query: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    with connect(dsn) as conn:
        return conn.execute(query, params).fetchall()


def buckets_of(dsn: str, view: str) -> dict[datetime, int]:
    column = "day" if view == "waf_events_daily_summary" else "bucket"
    return {
        b.astimezone(UTC): int(n)
        for b, n in rows(dsn, f"SELECT {column}, sum(event_count) FROM {view} GROUP BY 1")
    }


def totals(hot: HotStore, day: date, n: int) -> dict[str, int]:
    assert hot.aggregate_totals(day) == dict.fromkeys(LEVELS, n)
    return dict.fromkeys(LEVELS, n)


def job_id(dsn: str, proc: str, relation: str) -> int:
    found = rows(
        dsn,
        "SELECT job_id FROM timescaledb_information.jobs "
        "WHERE proc_name = %(proc)s AND hypertable_name = %(relation)s",
        {"proc": proc, "relation": relation},
    )
    assert len(found) == 1, (proc, relation, found)
    return int(found[0][0])


def run_job(dsn: str, job: int) -> None:
    with connect(dsn) as conn:  # autocommit: policies cannot run in a transaction block
        conn.execute("CALL run_job(%(job)s)", {"job": job})


def chunk_days(dsn: str) -> dict[date, bool]:
    """waf_events' chunks: the day each starts (UTC) and whether it is compressed."""
    return {
        start.astimezone(UTC).date(): compressed
        for start, compressed in rows(
            dsn,
            "SELECT range_start, is_compressed FROM timescaledb_information.chunks "
            "WHERE hypertable_name = 'waf_events'",
        )
    }


def test_refresh_covers_exactly_the_touched_buckets(tsdb_dsn: str) -> None:
    hot = hot_store(tsdb_dsn)
    hot.setup()
    nxt = DAY + timedelta(days=1)
    first = parse(
        [
            waf_event(
                at(DAY, 10, 0) + timedelta(seconds=10 + i * 20), "198.51.100.1", rule_id=942100
            )
            for i in range(7)
        ]
        + [waf_event(at(nxt, 23, 59, 50), "198.51.100.2", rule_id=930100)]
    )
    assert insert_and_refresh(hot, first) == 8
    # minutes 10:00, 10:01, 10:02 of DAY and 23:59 of the next day; their hours and days
    assert buckets_of(tsdb_dsn, "waf_events_1m") == {
        at(DAY, 10, 0): 3,
        at(DAY, 10, 1): 3,
        at(DAY, 10, 2): 1,
        at(nxt, 23, 59): 1,
    }
    assert buckets_of(tsdb_dsn, "waf_events_1h") == {at(DAY, 10, 0): 7, at(nxt, 23, 0): 1}
    assert buckets_of(tsdb_dsn, "waf_events_daily_summary") == {
        at(DAY, 0, 0): 7,
        at(nxt, 0, 0): 1,
    }
    summary = hot.daily_summary(DAY, nxt)
    assert [(r["day"], r["rule_id"], r["event_count"], r["distinct_ips"]) for r in summary] == [
        (at(DAY, 0, 0), "942100", 7, 1),
        (at(nxt, 0, 0), "930100", 1, 1),
    ]
    assert checks.check_aggregate_totals(hot, [DAY, nxt]).passed

    # a writer that bypasses the loader (no refresh) at 11:30; then a load at 12:00
    bypass = parse([waf_event(at(DAY, 11, 30, 5), "198.51.100.3", rule_id=942100)])
    assert insert_events(tsdb_dsn, bypass) == 1
    late = parse([waf_event(at(DAY, 12, 0, 1), "198.51.100.1", rule_id=942100)])
    assert insert_and_refresh(hot, late) == 1
    minutes = buckets_of(tsdb_dsn, "waf_events_1m")
    assert at(DAY, 12, 0) in minutes
    assert at(DAY, 11, 30) not in minutes  # untouched by the load: not refreshed
    assert buckets_of(tsdb_dsn, "waf_events_1h")[at(DAY, 10, 0)] == 7  # untouched hour kept
    assert hot.aggregate_totals(DAY) == {
        "waf_events": 9,
        "waf_events_1m": 8,
        "waf_events_1h": 8,
        "waf_events_daily_summary": 8,
    }
    check = checks.check_aggregate_totals(hot, [DAY, nxt])
    assert not check.passed and "2026-03-10" in check.description
    assert check.metadata["mismatched_days"] == {"2026-03-10": hot.aggregate_totals(DAY)}

    # a day refresh (what a rebuild or `refresh_days` does) settles the whole day
    hot.refresh_days([DAY])
    totals(hot, DAY, 9)
    assert buckets_of(tsdb_dsn, "waf_events_1m")[at(DAY, 11, 30)] == 1
    assert [
        (r["rule_id"], r["event_count"], r["distinct_ips"]) for r in hot.daily_summary(DAY, DAY)
    ] == [("942100", 9, 2)]
    # reloading the same events adds nothing and changes no aggregate
    assert insert_and_refresh(hot, pa.concat_tables([first, late])) == 0
    totals(hot, DAY, 9)
    totals(hot, nxt, 1)


def test_late_rows_land_in_a_compressed_chunk(tsdb_dsn: str) -> None:
    """The compression policy (run by hand: no scheduler here) compresses chunks older than
    compress_after; late events still go in, once, and their buckets are refreshed."""
    today = datetime.now(UTC).date()
    old, recent = today - timedelta(days=10), today - timedelta(days=1)
    hot = hot_store(tsdb_dsn, HotPolicy(retention_days=0, compress_after_days=7))
    hot.setup()
    burst = parse(sqli_burst(at(old, 9, 0, 30), "192.0.2.10", n=12))
    fresh = parse(sqli_burst(at(recent, 9, 0, 30), "192.0.2.11", n=4))
    assert insert_and_refresh(hot, pa.concat_tables([burst, fresh])) == 16

    run_job(tsdb_dsn, job_id(tsdb_dsn, "policy_compression", "waf_events"))
    assert chunk_days(tsdb_dsn) == {old: True, recent: False}
    compressed = rows(
        tsdb_dsn,
        "SELECT sum(before_compression_total_bytes) > sum(after_compression_total_bytes) "
        "FROM chunk_compression_stats('waf_events')",
    )
    assert compressed == [(True,)]

    # 3 late events (one in an already materialized minute), and one event delivered again
    late = parse(
        [
            waf_event(at(old, 9, 0, 59), "192.0.2.12", rule_id=942100, status=403),
            waf_event(at(old, 17, 45, 0), "192.0.2.12", rule_id=942100, status=403),
            waf_event(at(old, 23, 59, 59), "192.0.2.13", rule_id=930100, status=404),
        ]
    )
    again = burst.slice(3, 1)
    assert insert_and_refresh(hot, pa.concat_tables([late, again])) == 3
    assert hot.count_events(old, old) == 15
    totals(hot, old, 15)
    totals(hot, recent, 4)
    assert checks.check_aggregate_totals(hot, [old, recent]).passed
    assert buckets_of(tsdb_dsn, "waf_events_1m")[at(old, 9, 0)] == 6 + 1  # 09:00:30-55 + late
    assert [
        (r["rule_id"], r["event_count"], r["distinct_ips"]) for r in hot.daily_summary(old, old)
    ] == [("942100", 14, 2), ("930100", 1, 1)]
    # the chunk is still compressed (partially: the late rows wait for the next run)
    assert chunk_days(tsdb_dsn)[old] is True
    run_job(tsdb_dsn, job_id(tsdb_dsn, "policy_compression", "waf_events"))
    assert hot.count_events(old, old) == 15
    hot.refresh_days([old])
    totals(hot, old, 15)


def test_retention_drops_old_chunks_and_aggregates_outlive_them(tsdb_dsn: str) -> None:
    today = datetime.now(UTC).date()
    ancient, old, recent = (today - timedelta(days=d) for d in (100, 40, 2))
    # raw events 30 days, one-minute buckets 60 days, hourly a year, daily for ever
    hot = hot_store(tsdb_dsn, HotPolicy.of_days(30, 7, 60, 365, 0))
    hot.setup()
    events = pa.concat_tables(
        [
            parse(sqli_burst(at(ancient, 8, 0), "192.0.2.20", n=5)),
            parse(sqli_burst(at(old, 8, 0), "192.0.2.21", n=6)),
            parse(sqli_burst(at(recent, 8, 0), "192.0.2.22", n=7)),
        ]
    )
    assert insert_and_refresh(hot, events) == 18
    assert set(chunk_days(tsdb_dsn)) == {ancient, old, recent}

    run_job(tsdb_dsn, job_id(tsdb_dsn, "policy_retention", "waf_events"))
    assert set(chunk_days(tsdb_dsn)) == {recent}
    run_job(tsdb_dsn, job_id(tsdb_dsn, "policy_retention", "waf_events_1m"))
    run_job(tsdb_dsn, job_id(tsdb_dsn, "policy_retention", "waf_events_1h"))
    assert hot.aggregate_totals(ancient) == {
        "waf_events": 0,
        "waf_events_1m": 0,  # past the one-minute retention (60 days)
        "waf_events_1h": 5,
        "waf_events_daily_summary": 5,
    }
    assert hot.aggregate_totals(old) == {
        "waf_events": 0,  # past the raw retention (30 days)
        "waf_events_1m": 6,
        "waf_events_1h": 6,
        "waf_events_daily_summary": 6,
    }
    totals(hot, recent, 7)
    # the refresh policies do not reach back to days whose raw rows are gone
    for view in ("waf_events_1m", "waf_events_1h", "waf_events_daily_summary"):
        run_job(tsdb_dsn, job_id(tsdb_dsn, "policy_refresh_continuous_aggregate", view))
    assert hot.aggregate_totals(old)["waf_events_daily_summary"] == 6
    assert hot.aggregate_totals(ancient)["waf_events_daily_summary"] == 5
    # nor does a day refresh of the product: those days are past the raw retention
    assert hot.retained_days([ancient, old, recent]) == [recent]
    hot.refresh_days([ancient, old, recent])
    assert hot.aggregate_totals(old)["waf_events_1m"] == 6
    assert checks.check_aggregate_totals(hot, [recent]).passed

    report = hot.maintain()
    assert (report.dialect, report.policies_changed, report.failed_jobs) == ("timescale", [], [])


def test_refresh_policies_catch_writes_that_bypass_the_loader(tsdb_dsn: str) -> None:
    """Each refresh policy materializes its own window: [now - start_offset,
    now - end_offset) of whole buckets."""
    hot = hot_store(tsdb_dsn)
    hot.setup()
    now = datetime.now(UTC)
    when = (now - timedelta(hours=3)).replace(minute=15, second=0, microsecond=0)
    events = parse(sqli_burst(when, "192.0.2.30", n=6))
    assert insert_events(tsdb_dsn, events) == 6
    assert hot.aggregate_totals(when.date())["waf_events_1m"] == 0
    for view in ("waf_events_1m", "waf_events_1h", "waf_events_daily_summary"):
        run_job(tsdb_dsn, job_id(tsdb_dsn, "policy_refresh_continuous_aggregate", view))
    assert buckets_of(tsdb_dsn, "waf_events_1m") == {when: 6}
    assert buckets_of(tsdb_dsn, "waf_events_1h") == {when.replace(minute=0): 6}
    # the daily policy stops a day before now: today's (or yesterday's) bucket waits
    assert buckets_of(tsdb_dsn, "waf_events_daily_summary") == {}
    hot.refresh_days([when.date()])
    totals(hot, when.date(), 6)
