"""Hot tier on plain PostgreSQL: migrations, aggregates refreshed by bucket, retention,
day-atomic rebuilds from the lake, concurrency with live loads, and the data checks
(each made to fail on purpose)."""

import random
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pytest
from psycopg import sql as pgsql

from soc_platform import sql
from soc_platform.flow import checks, steps
from soc_platform.hot.arrow_copy import to_copy_csv
from soc_platform.hot.schema import partition_name
from soc_platform.hot.store import AGGREGATES, Dialect, HotPolicy, HotStore
from soc_platform.incidents import engine
from soc_platform.lake.iceberg import Lake
from soc_platform.models import CANONICAL_FIELDS
from soc_platform.parsing import get_parser, split_lines
from soc_platform.sources.synth import generate
from tests.helpers import sqli_burst, to_jsonl, waf_event

TODAY = datetime.now(UTC).date()
NOON = datetime.combine(TODAY - timedelta(days=1), datetime.min.time(), UTC) + timedelta(hours=12)


def parse(events: list[dict[str, Any]], source: str = "t.jsonl") -> pa.Table:
    block = split_lines(to_jsonl(events).encode())  # type: ignore[arg-type]
    result = get_parser("waf_json")(block, source, datetime.now(UTC))
    assert result.dead_letters.num_rows == 0
    return result.events


def rows(dsn: str, query: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, options="-c TimeZone=UTC") as conn:
        return conn.execute(query, params).fetchall()


@pytest.fixture
def hot(pg_dsn: str) -> HotStore:
    store = HotStore(pg_dsn)
    assert store.setup() is Dialect.PLAIN
    return store


def aggregates_snapshot(dsn: str) -> dict[str, list[tuple[Any, ...]]]:
    # sorted whole: rows can tie on the first columns (one IP, two hosts in a minute), and
    # the order of ties differs between a live load and a rebuild
    return {
        name: sorted(rows(dsn, f"SELECT * FROM {name}"), key=repr)
        for name in (*AGGREGATES, "waf_events_daily_ips")
    }


# -- schema -----------------------------------------------------------------------------


def test_setup_records_versions_and_is_idempotent(hot: HotStore, pg_dsn: str) -> None:
    latest = sql.latest_version()
    assert latest >= 2
    assert hot.schema_version() == latest
    before = rows(pg_dsn, "SELECT version, name, dialect, applied_at FROM soc_schema_version")
    assert hot.setup() is Dialect.PLAIN
    assert rows(pg_dsn, "SELECT version, name, dialect, applied_at FROM soc_schema_version") == (
        before
    )
    assert [r[0] for r in before] == list(range(1, latest + 1))


def test_concurrent_setups_do_not_collide(pg_dsn: str) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            HotStore(pg_dsn).setup()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert rows(pg_dsn, "SELECT count(*) FROM soc_schema_version") == [(sql.latest_version(),)]


def test_schema_1_deployment_upgrades_without_data_loss(pg_dsn: str) -> None:
    """A database set up by the foundation release (schema 1, events and a daily summary
    in it) migrates to the current schema with its rows kept and its aggregates filled."""
    old = HotStore(pg_dsn, policy=HotPolicy(retention_days=0))
    old.setup(target_version=1)
    assert old.schema_version() == 1
    assert rows(pg_dsn, "SELECT to_regclass('waf_events_1m')") == [(None,)]
    events = parse([*sqli_burst(NOON, "192.168.7.7", n=6), waf_event(NOON, "198.51.100.9")])
    # load as schema 1 did: COPY into the partition, then the day's summary, which two
    # racing refreshes could leave twice
    old.ensure_day_partitions([NOON.date()])
    # (schema 1's columns: the canonical event's came with migration 0005)
    columns = [name for name in events.column_names if name not in CANONICAL_FIELDS]
    columns.remove("raw")
    copy = pgsql.SQL("COPY waf_events ({}) FROM STDIN (FORMAT csv)").format(
        pgsql.SQL(", ").join(map(pgsql.Identifier, columns))
    )
    with old.connect() as conn:
        with conn.cursor().copy(copy) as cp:
            cp.write(to_copy_csv(events.select(columns)))
        for _ in range(2):
            conn.execute(
                "INSERT INTO waf_events_daily_summary SELECT date_trunc('day', event_time), "
                "rule_id, count(*), count(DISTINCT client_ip) FROM waf_events GROUP BY 1, 2"
            )
        # schema 1 kept no version table
        conn.execute("DROP TABLE soc_schema_version")
    new = HotStore(pg_dsn, policy=HotPolicy(retention_days=0))
    assert new.setup() is Dialect.PLAIN
    assert new.schema_version() == sql.latest_version()
    assert new.count_events(NOON.date(), NOON.date()) == 7
    assert checks.check_aggregate_totals(new, [NOON.date()]).passed
    assert sorted(
        (r["rule_id"] or "", r["event_count"], r["distinct_ips"])
        for r in new.daily_summary(NOON.date(), NOON.date())
    ) == [("", 1, 1), ("942100", 6, 1)]


# -- aggregates -------------------------------------------------------------------------


def test_aggregates_follow_loads_at_every_level(hot: HotStore, pg_dsn: str) -> None:
    events = [*sqli_burst(NOON, "192.168.1.10", n=5, spacing_s=20), waf_event(NOON, "203.0.113.4")]
    hot.load_events(parse(events))
    snap = aggregates_snapshot(pg_dsn)
    assert sum(r[5] for r in snap["waf_events_1m"]) == 6
    assert len({r[0] for r in snap["waf_events_1m"]}) == 2  # 5 x 20 s spans two minutes
    assert [(r[0], r[1], r[5]) for r in snap["waf_events_1h"] if r[1] == "942100"] == [
        (NOON, "942100", 5)
    ]
    assert [(r[1], r[2], r[3]) for r in snap["waf_events_daily_summary"]] == [
        ("942100", 5, 1),
        (None, 1, 1),
    ]
    # a late event in an already summarised minute updates that bucket
    hot.load_events(parse([waf_event(NOON + timedelta(seconds=5), "192.168.1.10")]))
    assert checks.check_aggregate_totals(hot, [NOON.date()]).passed
    assert rows(pg_dsn, "SELECT sum(event_count) FROM waf_events_daily_summary") == [(7,)]
    # loading the same events again changes nothing, at any level
    before = aggregates_snapshot(pg_dsn)
    assert hot.load_events(parse(events)).inserted == 0
    assert aggregates_snapshot(pg_dsn) == before
    assert rows(pg_dsn, "SELECT sum(event_count) FROM waf_events_1m") == [(7,)]


def test_refresh_touches_only_the_loaded_buckets(hot: HotStore, pg_dsn: str) -> None:
    """Incremental, not a recomputation: a bucket the load did not touch is not rewritten
    (here it was corrupted on purpose, and the totals check catches it)."""
    hot.load_events(parse([waf_event(NOON), waf_event(NOON + timedelta(hours=2))]))
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("UPDATE waf_events_1m SET event_count = 99 WHERE bucket = %s", (NOON,))
    hot.load_events(parse([waf_event(NOON + timedelta(hours=2, seconds=1))]))
    assert rows(pg_dsn, "SELECT event_count FROM waf_events_1m WHERE bucket = %s", (NOON,)) == [
        (99,)
    ]
    outcome = checks.check_aggregate_totals(hot, [NOON.date()])
    assert not outcome.passed
    assert "waf_events_1m 101" in outcome.description and "waf_events 3" in outcome.description
    # refreshing the day repairs it
    hot.refresh_days([NOON.date()])
    assert checks.check_aggregate_totals(hot, [NOON.date()]).passed


def test_refresh_of_one_minute_reads_only_that_minute(hot: HotStore, pg_dsn: str) -> None:
    hot.load_events(parse([waf_event(NOON + timedelta(minutes=m)) for m in range(30)]))
    one = NOON + timedelta(minutes=1)
    with psycopg.connect(pg_dsn) as conn:
        (plan,) = conn.execute(
            pgsql.SQL("EXPLAIN (ANALYZE, FORMAT JSON) ") + sql.query("refresh_waf_events_1m"),
            {"los": [NOON], "his": [one], "lo": NOON, "hi": one, "prune": True},
        ).fetchone()  # type: ignore[misc]
        conn.rollback()

    def scans(node: dict[str, Any]) -> list[dict[str, Any]]:
        found = [node] if str(node.get("Relation Name", "")).startswith("waf_events_p") else []
        return found + [n for child in node.get("Plans", []) for n in scans(child)]

    base = scans(plan[0]["Plan"])
    assert base, "the refresh must read the day partition"
    # of the 30 loaded minutes, only the refreshed one is read from the base table
    assert sum(n["Actual Rows"] * n["Actual Loops"] for n in base) == 1


# -- rebuilds from the lake -------------------------------------------------------------


def snapshot(dsn: str) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "waf_events": rows(dsn, "SELECT * FROM waf_events ORDER BY event_time, event_id"),
        **aggregates_snapshot(dsn),
        "incidents": rows(
            dsn,
            "SELECT id, type, rule, severity, client_ip, targets, start_time, end_time, "
            "window_start, window_end, event_count, blocked_count, rule_ids, description, "
            "attack_techniques, search_doc FROM incidents ORDER BY id",
        ),
    }


def test_backfill_of_a_generated_day_from_the_lake_alone_is_exact_twice(
    hot: HotStore, lake: Lake, pg_dsn: str, work_dir: Path
) -> None:
    day = NOON.date()
    events, _ = generate(events=3000, minutes=600, seed=11, end=NOON + timedelta(hours=6))
    path = work_dir / "gen.jsonl"
    path.write_text(to_jsonl(events))
    ingest = steps.ingest_files(lake, [str(path)])
    steps.load_hot(hot, ingest.events)
    engine.correlate_days(hot, ingest.days)
    live = snapshot(pg_dsn)
    assert len(live["waf_events"]) == len(events)
    assert live["incidents"], "the generated SQL-injection campaign must be detected"
    path.unlink()  # landing files may be long gone

    with psycopg.connect(pg_dsn, autocommit=True) as conn:  # lose the hot tier entirely
        conn.execute(
            "TRUNCATE waf_events, waf_events_1m, waf_events_1h, waf_events_daily_summary, incidents"
        )
    for _ in range(2):
        report = steps.rebuild_hot_days(hot, lake, [day])
        assert report.inserted == len(events)
        engine.correlate_days(hot, [day])
        assert snapshot(pg_dsn) == live
        assert checks.check_lake_hot_counts(hot, lake, [day], retries=0).passed
        assert checks.check_aggregate_totals(hot, [day]).passed


def test_rebuild_drops_rows_aggregates_and_incidents_the_lake_does_not_have(
    hot: HotStore, lake: Lake, pg_dsn: str
) -> None:
    burst = parse(sqli_burst(NOON, "192.168.3.3", n=10))
    hot.load_events(burst)  # in the hot store but never in the lake
    engine.correlate_days(hot, [NOON.date()])
    assert rows(pg_dsn, "SELECT count(*) FROM incidents") == [(1,)]
    steps.rebuild_hot_days(hot, lake, [NOON.date()])
    report = engine.correlate_days(hot, [NOON.date()])
    assert report.superseded and not report.incidents
    snap = snapshot(pg_dsn)
    assert {k: len(v) for k, v in snap.items()} == dict.fromkeys(snap, 0)


def test_a_live_load_during_a_rebuild_of_its_day_is_not_lost(hot: HotStore, pg_dsn: str) -> None:
    """The rebuild holds the day's lock from before it reads the lake until it commits: a
    micro-batch loading that day meanwhile waits, then adds its rows to the rebuilt day.
    (Without the lock the rebuild's DELETE would remove them.)"""
    base = parse([waf_event(NOON, "198.51.100.1")])
    hot.load_events(base)
    reading = threading.Event()

    def slow_lake_read() -> pa.Table:
        reading.set()
        time.sleep(1.0)  # the live load below starts while the lake is being read
        return base  # the lake as of before the live batch

    live = parse([waf_event(NOON + timedelta(minutes=1), "198.51.100.2")])
    done: dict[str, float] = {}

    def live_load() -> None:
        reading.wait()
        started = time.perf_counter()
        hot.load_events(live)
        done["waited"] = time.perf_counter() - started

    t = threading.Thread(target=live_load)
    t.start()
    hot.replace_day(NOON.date(), slow_lake_read)
    t.join()
    assert done["waited"] > 0.5  # it had to wait for the rebuild's commit
    assert rows(pg_dsn, "SELECT host(client_ip) FROM waf_events ORDER BY event_time") == [
        ("198.51.100.1",),
        ("198.51.100.2",),
    ]
    assert checks.check_aggregate_totals(hot, [NOON.date()]).passed


def test_readers_never_see_a_half_rebuilt_day(hot: HotStore, pg_dsn: str) -> None:
    before = parse([waf_event(NOON + timedelta(seconds=i)) for i in range(50)])
    hot.load_events(before)
    seen: list[int] = []
    stop = threading.Event()

    def reader() -> None:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            while not stop.is_set():
                seen.append(conn.execute("SELECT count(*) FROM waf_events").fetchone()[0])  # type: ignore[index]

    after = parse([waf_event(NOON + timedelta(seconds=i), "198.51.100.77") for i in range(80)])

    def read_after() -> pa.Table:
        time.sleep(0.2)
        return after

    t = threading.Thread(target=reader)
    t.start()
    hot.replace_day(NOON.date(), read_after)
    time.sleep(0.1)
    stop.set()
    t.join()
    assert set(seen) <= {50, 80} and 50 in seen and 80 in seen


# -- retention and maintenance ----------------------------------------------------------


def test_events_past_retention_stay_in_the_lake_only(pg_dsn: str) -> None:
    hot = HotStore(pg_dsn, policy=HotPolicy(retention_days=30))
    hot.setup()
    old = datetime.now(UTC) - timedelta(days=45)
    result = hot.load_events(parse([waf_event(old), waf_event(NOON)]))
    assert (result.inserted, result.outside_retention) == (1, 1)
    assert partition_name(old.date()) not in {
        r[0] for r in rows(pg_dsn, "SELECT relname FROM pg_class WHERE relkind = 'r'")
    }


def test_maintenance_creates_ahead_drops_expired_and_prunes_aggregates(pg_dsn: str) -> None:
    keep_all = HotStore(pg_dsn, policy=HotPolicy(retention_days=0))
    keep_all.setup()
    old_day = TODAY - timedelta(days=40)
    old = datetime.combine(old_day, datetime.min.time(), UTC) + timedelta(hours=1)
    ancient = old - timedelta(days=400)
    keep_all.load_events(parse([waf_event(old), waf_event(NOON), waf_event(ancient)]))
    policy = HotPolicy(
        retention_days=30,
        agg_retention_days=(
            ("waf_events_1m", 35),
            ("waf_events_1h", 365),
            ("waf_events_daily_summary", 0),
        ),
    )
    hot = HotStore(pg_dsn, policy=policy)
    report = hot.maintain(today=TODAY)
    assert report.partitions_created == [
        partition_name(TODAY + timedelta(days=i)) for i in range(4)
    ]
    assert report.partitions_dropped == [partition_name(ancient.date()), partition_name(old_day)]
    assert report.aggregate_rows_pruned == {
        "waf_events_daily_ips": 2,
        "waf_events_1m": 2,
        "waf_events_geo_1m": 2,  # kept like waf_events_1m
        "waf_events_1h": 1,
    }
    assert hot.count_events(date(2000, 1, 1), TODAY) == 1
    # the daily summary keeps its history: the dropped days are still summarised
    assert rows(pg_dsn, "SELECT sum(event_count) FROM waf_events_daily_summary") == [(3,)]
    again = hot.maintain(today=TODAY)
    assert again.partitions_created == [] and again.partitions_dropped == []


# -- checks -----------------------------------------------------------------------------


def test_lake_hot_count_check_fails_when_the_hot_store_lost_rows(
    hot: HotStore, lake: Lake, pg_dsn: str, work_dir: Path
) -> None:
    path = work_dir / "a.jsonl"
    path.write_text(to_jsonl([waf_event(NOON + timedelta(seconds=i)) for i in range(5)]))
    ingest = steps.ingest_files(lake, [str(path)])
    steps.load_hot(hot, ingest.events)
    assert checks.check_lake_hot_counts(hot, lake, [NOON.date()], retries=0).passed
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(
            "DELETE FROM waf_events WHERE event_id IN (SELECT event_id FROM waf_events LIMIT 2)"
        )
    outcome = checks.check_lake_hot_counts(hot, lake, [NOON.date()], retries=1, wait_s=0.01)
    assert not outcome.passed
    assert outcome.metadata["mismatched_days"] == {NOON.date().isoformat(): {"lake": 5, "hot": 3}}
    assert "backfill" in outcome.description


def test_freshness_check(hot: HotStore) -> None:
    assert not checks.check_freshness(hot, timedelta(minutes=60)).passed  # empty
    now = datetime.now(UTC)
    hot.load_events(parse([waf_event(now - timedelta(hours=3))]))
    stale = checks.check_freshness(hot, timedelta(minutes=60), now=now)
    assert not stale.passed and "180.0 min old" in stale.description
    hot.load_events(parse([waf_event(now - timedelta(minutes=5))]))
    assert checks.check_freshness(hot, timedelta(minutes=60), now=now).passed


def expected_daily(dsn: str) -> list[tuple[Any, ...]]:
    return rows(
        dsn,
        "SELECT date_trunc('day', event_time), rule_id, count(*), count(DISTINCT client_ip) "
        "FROM waf_events GROUP BY 1, 2 ORDER BY 1, 2",
    )


def test_loads_keep_the_daily_level_exact_without_rereading_the_day(
    hot: HotStore, pg_dsn: str
) -> None:
    """Loads apply per-IP deltas to the day level; after many small loads (IPs reappearing
    in other minutes, other rules, no rule) and an outside deletion refreshed partially,
    the daily summary equals a recomputation from the base table."""
    rng = random.Random(3)
    ips = [f"198.51.100.{i}" for i in range(1, 7)]
    rules = [942100, 941100, 0]  # 0: no rule matched
    for batch in range(8):
        events = []
        for _ in range(rng.randint(1, 12)):
            t = NOON + timedelta(minutes=rng.randint(0, 180), seconds=rng.randint(0, 59))
            rule = rng.choice(rules)
            events.append(
                waf_event(
                    t,
                    rng.choice(ips),
                    rule_id=rule,
                    rule_msg="m" if rule else "",
                    status=403 if rule else 200,
                    uri=f"/b{batch}/{rng.random()}",
                )
            )
        hot.load_events(parse(events))
        got = rows(
            pg_dsn,
            "SELECT day, rule_id, event_count, distinct_ips FROM waf_events_daily_summary "
            "ORDER BY 1, 2",
        )
        assert got == expected_daily(pg_dsn), f"after batch {batch}"
    # an outside deletion of one IP's events, refreshed for just its minutes
    gone = rows(pg_dsn, "SELECT event_time FROM waf_events WHERE client_ip = %s", (ips[0],))
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("DELETE FROM waf_events WHERE client_ip = %s", (ips[0],))
    hot.refresh_aggregates([(t, t + timedelta(seconds=1)) for (t,) in gone])
    got = rows(
        pg_dsn,
        "SELECT day, rule_id, event_count, distinct_ips FROM waf_events_daily_summary "
        "ORDER BY 1, 2",
    )
    assert got == expected_daily(pg_dsn)
    assert rows(
        pg_dsn, "SELECT count(*) FROM waf_events_daily_ips WHERE client_ip = %s", (ips[0],)
    ) == [(0,)]
    assert checks.check_aggregate_totals(hot, [NOON.date()]).passed


def test_backfilling_days_past_retention_keeps_their_summaries_and_incidents(
    pg_dsn: str, lake: Lake
) -> None:
    """A backfill over a range reaching past the raw retention rebuilds the retained days
    and leaves the older days' aggregates and incidents alone (their raw rows are gone:
    a recompute would empty them)."""
    old_day = TODAY - timedelta(days=40)
    t_old = datetime.combine(old_day, datetime.min.time(), UTC) + timedelta(hours=10)
    keep_all = HotStore(pg_dsn, policy=HotPolicy(retention_days=0))
    keep_all.setup()
    keep_all.load_events(parse(sqli_burst(t_old, "192.168.8.8", n=10)))
    engine.correlate_days(keep_all, [old_day])
    hot = HotStore(pg_dsn, policy=HotPolicy(retention_days=30))
    hot.maintain(today=TODAY)  # drops the old day's raw partition
    assert hot.count_events(old_day, old_day) == 0
    before = {
        name: rows(pg_dsn, f"SELECT * FROM {name} ORDER BY 1, 2")
        for name in ("waf_events_daily_summary", "incidents")
    }
    assert before["incidents"] and before["waf_events_daily_summary"]

    days = [old_day + timedelta(days=i) for i in range(41)]
    report = steps.rebuild_hot_days(hot, lake, days)
    assert old_day in report.skipped_days and old_day not in report.days
    hot.refresh_days(days)
    assert not engine.correlate_days(hot, days).superseded
    after = {name: rows(pg_dsn, f"SELECT * FROM {name} ORDER BY 1, 2") for name in before}
    assert after == before


def test_aggregates_are_not_pruned_while_raw_events_are_kept(pg_dsn: str) -> None:
    policy = HotPolicy(retention_days=0, agg_retention_days=(("waf_events_1m", 10),))
    hot = HotStore(pg_dsn, policy=policy)
    hot.setup()
    long_ago = datetime.now(UTC) - timedelta(days=400)
    hot.load_events(parse([waf_event(long_ago)]))
    assert hot.maintain().aggregate_rows_pruned == {}
    assert rows(pg_dsn, "SELECT count(*) FROM waf_events_1m") == [(1,)]


def test_retire_only_touches_the_given_days(hot: HotStore, pg_dsn: str) -> None:
    """Re-evaluating two days a week apart must not retire incidents of the days between."""
    mid = NOON - timedelta(days=3)
    hot.load_events(parse(sqli_burst(mid, "192.168.2.2", n=10)))
    engine.correlate_days(hot, [mid.date()])
    assert rows(pg_dsn, "SELECT count(*) FROM incidents") == [(1,)]
    with psycopg.connect(pg_dsn) as conn:  # its events vanish, but the day is not re-run
        conn.execute("DELETE FROM waf_events")
    engine.correlate_days(hot, [(NOON - timedelta(days=6)).date(), NOON.date()])
    assert rows(pg_dsn, "SELECT count(*) FROM incidents") == [(1,)]
