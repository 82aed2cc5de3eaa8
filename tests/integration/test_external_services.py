"""TimescaleDB and Meilisearch code paths, against real servers when their address is given.

These servers cannot run on the CI machines; the tests skip with that reason unless
SOC_TEST_TIMESCALE_DSN / SOC_TEST_MEILI_URL (+ SOC_TEST_MEILI_KEY) point at one, e.g. the
docker-compose stack (see README "Test suites"). The TimescaleDB dialect itself runs in CI
on PGlite (tests/timescale/); what PGlite cannot do is tested here: COPY loads and day
rebuilds, concurrency and advisory locks, the background job scheduler.
"""

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from soc_platform.correlation.detection import default_detection
from soc_platform.correlation.incidents import build_incident
from soc_platform.factory import scratch_database
from soc_platform.flow import checks, steps
from soc_platform.hot.store import Dialect, HotPolicy, HotStore
from soc_platform.incidents import engine
from soc_platform.models import Incident
from soc_platform.parsing import get_parser, split_lines
from soc_platform.search.backends import MeilisearchSearch
from soc_platform.sql import latest_version
from tests.helpers import sqli_burst, to_jsonl
from tests.integration import test_hot_tier

TIMESCALE_DSN = os.environ.get("SOC_TEST_TIMESCALE_DSN")
MEILI_URL = os.environ.get("SOC_TEST_MEILI_URL")
T0 = datetime(2026, 3, 10, 12, 0, 30, tzinfo=UTC)
SQLI = default_detection().only("waf-sqli-burst")
SQLI_BURST = SQLI.rules.rule("waf-sqli-burst")


def build(match: dict[str, object]) -> Incident:
    return build_incident(
        SQLI_BURST, match, window_end=T0 + timedelta(minutes=5), context=SQLI.context
    )


@pytest.fixture
def timescale_dsn() -> Iterator[str]:
    """A fresh database on the TimescaleDB server of SOC_TEST_TIMESCALE_DSN."""
    if not TIMESCALE_DSN:
        pytest.skip("SOC_TEST_TIMESCALE_DSN is not set: no TimescaleDB server on this machine")
    with scratch_database(TIMESCALE_DSN) as dsn:
        yield dsn


def one(dsn: str, query: str) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query).fetchall()


@pytest.mark.timescale
def test_timescale_schema_policies_and_aggregates(timescale_dsn: str) -> None:
    """DDL twice, hypertable with 1-day chunks, compression settings, policies and the
    continuous aggregates, all verified through timescaledb_information."""
    dsn = timescale_dsn
    hot = HotStore(dsn, policy=HotPolicy(retention_days=0))
    assert hot.setup() is Dialect.TIMESCALE
    assert hot.setup() is Dialect.TIMESCALE  # DDL twice
    assert hot.schema_version() == latest_version()
    assert one(
        dsn,
        "SELECT column_name, time_interval FROM timescaledb_information.dimensions "
        "WHERE hypertable_name = 'waf_events'",
    ) == [("event_time", timedelta(days=1))]
    assert one(
        dsn,
        "SELECT compression_enabled FROM timescaledb_information.hypertables "
        "WHERE hypertable_name = 'waf_events'",
    ) == [(True,)]
    settings = one(
        dsn,
        "SELECT attname, segmentby_column_index, orderby_column_index, orderby_asc "
        "FROM timescaledb_information.compression_settings "
        "WHERE hypertable_name = 'waf_events' ORDER BY attname",
    )
    assert ("rule_id", 1, None, None) in settings
    assert ("client_ip", None, 1, True) in settings
    assert ("event_time", None, 2, False) in settings
    caggs = one(
        dsn,
        "SELECT view_name, materialized_only FROM timescaledb_information.continuous_aggregates "
        "ORDER BY view_name",
    )
    assert caggs == [
        ("waf_events_1h", True),
        ("waf_events_1m", True),
        ("waf_events_daily_summary", True),
    ]
    jobs = one(
        dsn,
        "SELECT proc_name, hypertable_name, config FROM timescaledb_information.jobs "
        "WHERE proc_name LIKE 'policy_%' ORDER BY proc_name, hypertable_name",
    )
    procs = [j[0] for j in jobs]
    assert procs.count("policy_refresh_continuous_aggregate") == 3
    assert procs.count("policy_compression") == 1
    compression = next(j for j in jobs if j[0] == "policy_compression")
    assert compression[2]["compress_after"] in ("7 days", "7 days 00:00:00")
    # retention 0 (keep forever) for raw events; the aggregates' own retentions are set
    assert procs.count("policy_retention") == 2  # 1m: 180 days, 1h: 730 days

    # changing a setting replaces exactly that policy
    hot90 = HotStore(dsn, policy=HotPolicy(retention_days=90))
    hot90.setup()
    retention = one(
        dsn,
        "SELECT config->>'drop_after' FROM timescaledb_information.jobs "
        "WHERE proc_name = 'policy_retention' AND hypertable_name = 'waf_events'",
    )
    assert retention and retention[0][0].startswith("90 days")
    assert HotStore(dsn, policy=HotPolicy(retention_days=90)).maintain().policies_changed == []
    # a policy removed behind our back is put back by the daily maintenance
    one(dsn, "SELECT remove_retention_policy('waf_events')")
    assert hot90.maintain().policies_changed == ["waf_events retention: 90 days"]


@pytest.mark.timescale
def test_timescale_loads_refresh_aggregates_and_rebuild_days(timescale_dsn: str) -> None:
    hot = HotStore(timescale_dsn, policy=HotPolicy(retention_days=0))
    hot.setup()
    events = get_parser("waf_json")(
        split_lines(to_jsonl(sqli_burst(T0, "192.168.5.5", n=10)).encode()), "t", T0
    ).events
    report = steps.load_hot(hot, events)
    assert report.inserted == 10 and report.dialect == "timescale"
    assert hot.load_events(events).inserted == 0
    rows = hot.daily_summary(T0.date(), T0.date())
    assert [(r["rule_id"], r["event_count"], r["distinct_ips"]) for r in rows] == [
        ("942100", 10, 1)
    ]
    assert checks.check_aggregate_totals(hot, [T0.date()]).passed
    assert one(
        timescale_dsn,
        "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'waf_events'",
    ) == [(1,)]
    correlation = engine.correlate(hot, events["event_time"], SQLI, now=T0)
    assert [i.event_count for i in correlation.incidents] == [10]
    # a rebuild of the day from a smaller "lake" replaces rows and aggregates
    result = hot.replace_day(T0.date(), lambda: events.slice(0, 4))
    assert result.inserted == 4
    assert checks.check_aggregate_totals(hot, [T0.date()]).passed
    assert hot.count_events(T0.date(), T0.date()) == 4
    # compressed chunks take late rows and rebuilds too
    one(timescale_dsn, "SELECT compress_chunk(c) FROM show_chunks('waf_events') AS c")
    late = get_parser("waf_json")(
        split_lines(to_jsonl(sqli_burst(T0, "192.168.5.6", n=3)).encode()), "t", T0
    ).events
    assert hot.load_events(late).inserted == 3
    assert checks.check_aggregate_totals(hot, [T0.date()]).passed


@pytest.mark.timescale
def test_timescale_concurrent_setups_and_day_locks(timescale_dsn: str) -> None:
    """Concurrent setups, and a live load waiting for the day lock of a rebuild (the plain
    PostgreSQL tests of test_hot_tier, on TimescaleDB: PGlite has one shared backend)."""
    test_hot_tier.test_concurrent_setups_do_not_collide(timescale_dsn)
    hot = HotStore(timescale_dsn, policy=HotPolicy(retention_days=0))
    assert hot.setup() is Dialect.TIMESCALE
    test_hot_tier.test_a_live_load_during_a_rebuild_of_its_day_is_not_lost(hot, timescale_dsn)


@pytest.mark.timescale
def test_timescale_failed_jobs_are_reported(timescale_dsn: str) -> None:
    """The background scheduler runs jobs (PGlite has none, and a foreground run_job records
    no job statistics); the daily maintenance names each job whose last run failed."""
    hot = HotStore(timescale_dsn, policy=HotPolicy(retention_days=0))
    hot.setup()
    with psycopg.connect(timescale_dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE PROCEDURE soc_test_failing_job(job_id int, config jsonb) LANGUAGE plpgsql "
            "AS $$BEGIN RAISE EXCEPTION 'failing on purpose'; END$$"
        )
        row = conn.execute(
            "SELECT add_job('soc_test_failing_job', INTERVAL '1 hour', initial_start => now())"
        ).fetchone()
    assert row
    deadline = time.monotonic() + 120
    while not (failed := hot.maintain().failed_jobs):
        assert time.monotonic() < deadline, "the job scheduler did not run the job in 120 s"
        time.sleep(1)
    assert len(failed) == 1
    assert failed[0].startswith(f"job {row[0]} soc_test_failing_job on None: Failed (")


@pytest.mark.skipif(
    not MEILI_URL, reason="SOC_TEST_MEILI_URL is not set: no Meilisearch server on this machine"
)
def test_meilisearch_backend() -> None:
    assert MEILI_URL
    backend = MeilisearchSearch(MEILI_URL, os.environ.get("SOC_TEST_MEILI_KEY"))
    backend.ensure_index()
    backend.prune(T0 - timedelta(days=1), T0 + timedelta(days=1), keep=[])  # a clean slate
    backend.ensure_index()  # settings applied idempotently
    match = {
        "group_key": "192.168.77.3",
        "sources": ["192.168.77.3"],
        "source_count": 1,
        "window_start": T0,
        "start_time": T0,
        "end_time": T0 + timedelta(minutes=2),
        "event_count": 12,
        "blocked_count": 12,
        "rule_ids": ["942100"],
        "targets": ["shop.example.com/products"],
    }
    inc = build(match)
    assert backend.upsert([inc]) == 1
    assert backend.upsert([inc]) == 1  # upsert by id: still one document
    hits = backend.search("blocked attempts from 192.168")
    assert [h.id for h in hits] == [inc.id]
    assert [h.id for h in backend.search("sql injecton", type_="sql_injection")] == [inc.id]

    other = build({**match, "group_key": "192.168.77.4", "sources": ["192.168.77.4"]})
    backend.upsert([other])
    day = timedelta(days=1)
    assert backend.prune(T0 - day, T0 + day, keep=[inc.id]) == 1  # a rebuilt day drops it
    assert [h.id for h in backend.search("192.168.77")] == [inc.id]
    assert backend.delete([inc.id]) == 1  # superseded by a merged incident
    assert backend.search("blocked attempts from 192.168") == []


@pytest.mark.skipif(
    not MEILI_URL, reason="SOC_TEST_MEILI_URL is not set: no Meilisearch server on this machine"
)
def test_meilisearch_query_syntax_synonyms_and_settings() -> None:
    """The filter syntax as a Meilisearch filter, the synonyms, settings applied twice."""
    assert MEILI_URL
    backend = MeilisearchSearch(MEILI_URL, os.environ.get("SOC_TEST_MEILI_KEY"))
    backend.ensure_index()
    backend.prune(T0 - timedelta(days=1), T0 + timedelta(days=1), keep=[])
    backend.ensure_index()
    settings = backend.client.index("incidents").get_settings()
    assert "source_prefixes" in settings["filterableAttributes"]
    assert "score:desc" in settings["rankingRules"]
    assert "sql injection" in settings["synonyms"]["sqli"]
    match = {
        "group_key": "192.168.77.3",
        "sources": ["192.168.77.3"],
        "source_count": 1,
        "window_start": T0,
        "start_time": T0,
        "end_time": T0 + timedelta(minutes=2),
        "event_count": 12,
        "blocked_count": 12,
        "rule_ids": ["942100"],
        "targets": ["shop.example.com/products"],
    }
    inc = build(match)
    other = build({**match, "group_key": "10.9.8.7", "sources": ["10.9.8.7"]})
    backend.upsert([inc, other])
    assert {h.id for h in backend.search("sqli")} == {inc.id, other.id}  # synonym
    assert [h.id for h in backend.search("ip:192.168.0.0/16 status:open")] == [inc.id]
    assert [h.id for h in backend.search("ip:10.9 host:shop.example.com")] == [other.id]
    assert backend.search("status:closed") == []
    assert backend.search("rule:waf-xss-burst") == []
