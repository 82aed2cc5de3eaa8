"""The hot store against a real PostgreSQL (plain dialect)."""

from datetime import UTC, date, datetime, timedelta

import psycopg
import pyarrow as pa
import pytest

from soc_platform.correlation.detection import default_detection
from soc_platform.errors import HotStoreError
from soc_platform.flow import steps
from soc_platform.hot.store import Dialect, HotPolicy, HotStore
from soc_platform.incidents import engine
from soc_platform.parsing import get_parser, split_lines
from soc_platform.search.backends import EmbeddedSearch
from tests.helpers import sqli_burst, to_jsonl, waf_event

T0 = datetime(2026, 3, 10, 12, 0, 30, tzinfo=UTC)
SQLI = default_detection().only("waf-sqli-burst")  # the seed's rule, as a Sigma rule


def parse(events: list[dict[str, object]], source: str = "test.jsonl") -> pa.Table:
    block = split_lines(to_jsonl(events).encode())  # type: ignore[arg-type]
    result = get_parser("waf_json")(block, source, datetime.now(UTC))
    assert result.dead_letters.num_rows == 0
    return result.events


@pytest.fixture
def hot(pg_dsn: str) -> HotStore:
    # fixed dates in the past: keep every day (retention is tested on its own)
    store = HotStore(pg_dsn, policy=HotPolicy(retention_days=0))
    assert store.setup() is Dialect.PLAIN
    return store


def scalar(dsn: str, query: str) -> object:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return row[0]


def test_schema_applies_twice_with_partitioning_and_indexes(hot: HotStore, pg_dsn: str) -> None:
    assert hot.setup() is Dialect.PLAIN
    assert scalar(pg_dsn, "SELECT relkind FROM pg_class WHERE relname = 'waf_events'") == "p"
    indexes = scalar(
        pg_dsn,
        "SELECT array_agg(indexname ORDER BY indexname) FROM pg_indexes "
        "WHERE tablename = 'waf_events'",
    )
    assert indexes == [
        "waf_events_as_number_time_idx",  # enrichment (migration 0006)
        "waf_events_client_ip_time_idx",
        "waf_events_country_time_idx",
        "waf_events_event_uidx",
        "waf_events_rule_id_time_idx",
        "waf_events_time_idx",
    ]


def test_load_is_idempotent_and_creates_day_partitions(hot: HotStore, pg_dsn: str) -> None:
    late = T0 - timedelta(days=3)
    events = parse([waf_event(T0), waf_event(T0 + timedelta(seconds=1)), waf_event(late)])
    first = hot.load_events(events)
    again = hot.load_events(events)
    assert (first.inserted, first.duplicates) == (3, 0)
    assert (again.inserted, again.duplicates) == (0, 3)
    # partly new: the direct COPY meets a duplicate and falls back to INSERT ... ON CONFLICT
    more = parse([waf_event(T0), waf_event(T0 + timedelta(seconds=2))])
    assert hot.load_events(more).inserted == 1
    assert scalar(pg_dsn, "SELECT count(*) FROM waf_events") == 4
    parts = scalar(
        pg_dsn,
        "SELECT array_agg(c.relname::text ORDER BY c.relname) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'waf_events'::regclass",
    )
    assert parts == [f"waf_events_p{late:%Y%m%d}", f"waf_events_p{T0:%Y%m%d}"]


def test_copy_preserves_values_nulls_and_arrays(hot: HotStore, pg_dsn: str) -> None:
    ev = waf_event(
        T0,
        "2001:db8::1",
        rule_id=942100,
        rule_msg='a "quoted", msg',
        tags=['x"y', "back\\slash", "a,b"],
        status=403,
    )
    ev.pop("user_agent")
    hot.load_events(parse([ev]))
    with psycopg.connect(pg_dsn) as conn:
        row = conn.execute(
            "SELECT host(client_ip), rule_id, rule_msg, rule_tags, user_agent, action, "
            "event_time FROM waf_events"
        ).fetchone()
    assert row == (
        "2001:db8::1",
        "942100",
        'a "quoted", msg',
        ['x"y', "back\\slash", "a,b"],
        None,
        "blocked",
        T0,
    )


def test_daily_summary_refresh_matches_base_table(hot: HotStore, pg_dsn: str) -> None:
    events = [*sqli_burst(T0, "192.168.1.10", n=4), waf_event(T0, "198.51.100.1")]
    hot.load_events(parse(events))
    hot.refresh_days([T0.date()])
    hot.refresh_days([T0.date()])  # refreshing again must not double anything
    rows = {
        r["rule_id"]: (r["event_count"], r["distinct_ips"])
        for r in hot.daily_summary(T0.date(), T0.date())
    }
    assert rows == {"942100": (4, 1), None: (1, 1)}


def test_sqli_burst_rule_and_search(hot: HotStore) -> None:
    burst = sqli_burst(T0, "192.168.7.21", n=12, spacing_s=10)  # 12 in 2 minutes
    slow = sqli_burst(T0, "203.0.113.50", n=3, spacing_s=60)  # below threshold
    xss = [
        waf_event(
            T0 + timedelta(seconds=i),
            "198.51.100.9",
            rule_id=941100,
            rule_msg="XSS Attack Detected via libinjection",
            tags=["attack-xss"],
            status=403,
        )
        for i in range(20)
    ]
    events = parse(burst + slow + xss)
    steps.load_hot(hot, events)
    report = engine.correlate(hot, events["event_time"], SQLI, now=T0)
    assert [(i.client_ip, i.event_count) for i in report.incidents] == [("192.168.7.21", 12)]
    inc = report.incidents[0]
    assert inc.rule_ids == ["942100"] and inc.blocked_count == 12
    assert inc.attack_techniques == ["T1190"]

    again = engine.correlate(hot, events["event_time"], SQLI, now=T0)
    assert [i.id for i in again.incidents] == [inc.id]
    assert again.changed == 0  # nothing new: no update
    assert len(hot.list_incidents()) == 1

    search = EmbeddedSearch(hot)
    assert [h.id for h in search.search("blocked attempts from 192.168")] == [inc.id]
    assert [h.id for h in search.search("sql injecton")] == [inc.id]  # typo
    assert [h.id for h in search.search("blokced atempts")] == [inc.id]  # two typos
    assert [h.id for h in search.search("from the")] == [inc.id]  # stop words only: all
    assert search.search("cross site scripting 10.0") == []


def test_sqli_recognised_by_tag_or_message_alone(hot: HotStore) -> None:
    by_tag = [
        waf_event(
            T0 + timedelta(seconds=i),
            "10.1.1.1",
            rule_id=1001,
            rule_msg="custom",
            tags=["attack-sqli"],
            status=403,
        )
        for i in range(10)
    ]
    by_msg = [
        waf_event(
            T0 + timedelta(seconds=i),
            "10.1.1.2",
            rule_id=5,
            rule_msg="SQL Injection Attempt",
            status=200,
        )
        for i in range(10)
    ]
    events = parse(by_tag + by_msg)
    steps.load_hot(hot, events)
    report = engine.correlate(hot, events["event_time"], SQLI, now=T0)
    assert sorted(i.client_ip for i in report.incidents) == ["10.1.1.1", "10.1.1.2"]
    detected = next(i for i in report.incidents if i.client_ip == "10.1.1.2")
    assert detected.blocked_count == 0 and "0 blocked, 10 not blocked" in detected.description


def test_late_events_complete_a_past_window(hot: HotStore) -> None:
    first = parse(sqli_burst(T0, "192.168.3.3", n=6))
    steps.load_hot(hot, first)
    assert (
        engine.correlate(hot, first["event_time"], SQLI, now=T0 + timedelta(days=1)).incidents == []
    )
    late = parse(sqli_burst(T0 + timedelta(seconds=40), "192.168.3.3", n=6, spacing_s=3))
    steps.load_hot(hot, late)
    report = engine.correlate(hot, late["event_time"], SQLI, now=T0 + timedelta(days=1))
    assert [i.event_count for i in report.incidents] == [12]


def test_replace_day_rewrites_exactly_that_day(hot: HotStore, pg_dsn: str) -> None:
    other = T0 + timedelta(days=1)
    hot.load_events(parse([waf_event(T0), waf_event(other)]))
    result = hot.replace_day(T0.date(), lambda: parse([waf_event(T0, "198.51.100.2")]))
    assert result.inserted == 1
    assert scalar(
        pg_dsn, "SELECT array_agg(host(client_ip) ORDER BY event_time) FROM waf_events"
    ) == ["198.51.100.2", "203.0.113.7"]


def test_unreachable_server_is_one_clear_error() -> None:
    store = HotStore("postgresql://soc:x@127.0.0.1:1/soc", connect_timeout=2)
    with pytest.raises(HotStoreError, match="cannot connect to the hot store"):
        store.setup()


def test_count_events(hot: HotStore) -> None:
    hot.load_events(parse([waf_event(T0), waf_event(T0 + timedelta(hours=1))]))
    assert hot.count_events(T0.date(), T0.date()) == 2
    assert hot.count_events(date(2020, 1, 1), date(2020, 1, 2)) == 0


def test_burst_straddling_a_window_boundary_is_one_incident(hot: HotStore) -> None:
    # 6 + 6 events around 12:05: no fixed 5-minute window holds 10, the hopping ones do
    start = datetime(2026, 3, 10, 12, 4, 0, tzinfo=UTC)
    events = parse(sqli_burst(start, "192.168.8.8", n=12, spacing_s=10))
    steps.load_hot(hot, events)
    report = engine.correlate(hot, events["event_time"], SQLI, now=start)
    assert [(i.client_ip, i.event_count) for i in report.incidents] == [("192.168.8.8", 12)]
    inc = report.incidents[0]
    assert (inc.start_time, inc.end_time) == (start, start + timedelta(seconds=110))
    assert inc.window_start <= inc.start_time and inc.end_time < inc.window_end


def test_a_long_attack_is_one_incident_not_one_per_window(hot: HotStore) -> None:
    start = datetime(2026, 3, 10, 12, 0, 0, tzinfo=UTC)
    events = parse(sqli_burst(start, "192.168.8.9", n=60, spacing_s=15))  # 15 minutes
    steps.load_hot(hot, events)
    report = engine.correlate(hot, events["event_time"], SQLI, now=start)
    assert [i.event_count for i in report.incidents] == [60]
    assert "60 SQL injection attempts from 192.168.8.9 within 15 minutes" in (
        report.incidents[0].description
    )


def test_late_events_extending_a_run_supersede_its_incident(hot: HotStore) -> None:
    later = datetime(2026, 3, 10, 12, 10, 0, tzinfo=UTC)
    first = parse(sqli_burst(later, "192.168.9.1", n=10, spacing_s=5))
    steps.load_hot(hot, first)
    before = engine.correlate(hot, first["event_time"], SQLI, now=later)
    (old,) = before.incidents

    late = parse(
        sqli_burst(later - timedelta(minutes=4, seconds=30), "192.168.9.1", n=10, spacing_s=2)
    )
    steps.load_hot(hot, late)
    after = engine.correlate(hot, late["event_time"], SQLI, now=later)
    (merged,) = after.incidents
    assert merged.id != old.id and merged.event_count == 20
    assert after.superseded == [old.id]
    assert [i.id for i in hot.list_incidents()] == [merged.id]

    again = engine.correlate(hot, late["event_time"], SQLI, now=later)  # idempotent
    assert ([i.id for i in again.incidents], again.changed, again.superseded) == (
        [merged.id],
        0,
        [],
    )


def test_dialect_is_known_only_after_setup_and_search_sets_up_explicitly(pg_dsn: str) -> None:
    """Reading the dialect no longer runs the schema set-up behind the caller's back: it is
    an error before ``setup()``. The operations that need the schema (and the embedded
    search's ``ensure_index``) call ``ensure_setup()`` themselves."""
    store = HotStore(pg_dsn)
    with pytest.raises(HotStoreError, match="not set up"):
        _ = store.dialect
    with psycopg.connect(pg_dsn) as conn:  # nothing was created by asking
        assert conn.execute("SELECT to_regclass('incidents')").fetchone() == (None,)
    EmbeddedSearch(store).ensure_index()
    assert store.dialect is Dialect.PLAIN
    assert EmbeddedSearch(HotStore(pg_dsn)).search("anything") == []
