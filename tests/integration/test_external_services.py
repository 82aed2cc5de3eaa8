"""TimescaleDB and Meilisearch code paths, against real servers when their address is given.

These servers cannot run on the CI machines; the tests skip with that reason unless
SOC_TEST_TIMESCALE_DSN / SOC_TEST_MEILI_URL (+ SOC_TEST_MEILI_KEY) point at one, e.g. the
docker-compose stack (see README "Production-like stack").
"""

import os
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg import sql

from soc_platform import pipeline
from soc_platform.correlation.incidents import build_incident
from soc_platform.correlation.rules import SQLI_BURST
from soc_platform.parsing import get_parser, split_lines
from soc_platform.stores.hot import Dialect, HotStore
from soc_platform.stores.search import MeilisearchSearch
from tests.helpers import sqli_burst, to_jsonl

TIMESCALE_DSN = os.environ.get("SOC_TEST_TIMESCALE_DSN")
MEILI_URL = os.environ.get("SOC_TEST_MEILI_URL")
T0 = datetime(2026, 3, 10, 12, 0, 30, tzinfo=UTC)


@pytest.mark.skipif(
    not TIMESCALE_DSN,
    reason="SOC_TEST_TIMESCALE_DSN is not set: no TimescaleDB server on this machine",
)
def test_timescale_dialect_end_to_end() -> None:
    assert TIMESCALE_DSN
    name = f"t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(TIMESCALE_DSN, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = psycopg.conninfo.make_conninfo(TIMESCALE_DSN, dbname=name)
    try:
        hot = HotStore(dsn)
        assert hot.setup() is Dialect.TIMESCALE
        assert hot.setup() is Dialect.TIMESCALE  # DDL twice
        with psycopg.connect(dsn) as conn:
            dims = conn.execute(
                "SELECT column_name, time_interval FROM timescaledb_information.dimensions "
                "WHERE hypertable_name = 'waf_events'"
            ).fetchall()
            assert dims == [("event_time", timedelta(days=1))]
            caggs = conn.execute(
                "SELECT view_name FROM timescaledb_information.continuous_aggregates"
            ).fetchall()
            assert caggs == [("waf_events_daily_summary",)]
        events = get_parser("waf_json")(
            split_lines(to_jsonl(sqli_burst(T0, "192.168.5.5", n=10)).encode()), "t", T0
        ).events
        pipeline.load_hot(hot, events)
        assert hot.load_events(events).inserted == 0
        rows = hot.daily_summary(T0.date(), T0.date())
        assert [(r["rule_id"], r["event_count"], r["distinct_ips"]) for r in rows] == [
            ("942100", 10, 1)
        ]
        report = pipeline.correlate(hot, events["event_time"], now=T0)
        assert [i.event_count for i in report.incidents] == [10]
    finally:
        with psycopg.connect(TIMESCALE_DSN, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


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
        "client_ip": "192.168.77.3",
        "window_start": T0,
        "start_time": T0,
        "end_time": T0 + timedelta(minutes=2),
        "event_count": 12,
        "blocked_count": 12,
        "rule_ids": ["942100"],
        "targets": ["shop.example.com/products"],
    }
    inc = build_incident(SQLI_BURST, match)
    assert backend.upsert([inc]) == 1
    assert backend.upsert([inc]) == 1  # upsert by id: still one document
    hits = backend.search("blocked attempts from 192.168")
    assert [h.id for h in hits] == [inc.id]
    assert [h.id for h in backend.search("sql injecton", type_="sql_injection")] == [inc.id]

    other = build_incident(SQLI_BURST, {**match, "client_ip": "192.168.77.4"})
    backend.upsert([other])
    day = timedelta(days=1)
    assert backend.prune(T0 - day, T0 + day, keep=[inc.id]) == 1  # a rebuilt day drops it
    assert [h.id for h in backend.search("192.168.77")] == [inc.id]
    assert backend.delete([inc.id]) == 1  # superseded by a merged incident
    assert backend.search("blocked attempts from 192.168") == []
