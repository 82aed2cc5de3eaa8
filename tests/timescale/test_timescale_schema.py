"""TimescaleDB dialect: migrations, the catalog and the policies, read back through
``timescaledb_information`` on PGlite + TimescaleDB 2.23 (see conftest.py)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from soc_platform.hot.store import Dialect, HotPolicy
from soc_platform.parsing import get_parser, split_lines
from soc_platform.sql import latest_version
from tests.helpers import sqli_burst, to_jsonl
from tests.timescale.pglite import connect, hot_store, insert_events

pytestmark = pytest.mark.timescale

T0 = datetime(2026, 3, 10, 12, 0, 30, tzinfo=UTC)


def rows(dsn: str, query: str) -> list[tuple[Any, ...]]:
    with connect(dsn) as conn:
        return conn.execute(query).fetchall()


def jobs(dsn: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The policy jobs by (proc, relation): schedule and configured intervals."""
    found = rows(
        dsn,
        """
        SELECT proc_name, hypertable_name, schedule_interval,
               (config->>'start_offset')::interval, (config->>'end_offset')::interval,
               (config->>'compress_after')::interval, (config->>'drop_after')::interval
        FROM timescaledb_information.jobs
        WHERE proc_name LIKE 'policy_%' AND hypertable_name IS NOT NULL
        """,
    )
    keys = ("schedule", "start_offset", "end_offset", "compress_after", "drop_after")
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for proc, relation, *values in found:
        assert (proc, relation) not in out, f"two {proc} jobs on {relation}"
        out[(proc, relation)] = {k: v for k, v in zip(keys, values, strict=True) if v is not None}
    return out


def test_migrations_apply_twice_and_record_the_timescale_dialect(tsdb_dsn: str) -> None:
    hot = hot_store(tsdb_dsn)
    assert hot.setup() is Dialect.TIMESCALE
    assert hot.setup() is Dialect.TIMESCALE  # every statement idempotent
    assert hot.schema_version() == latest_version()
    recorded = rows(tsdb_dsn, "SELECT version, dialect FROM soc_schema_version ORDER BY version")
    assert recorded == [(v, "timescale") for v in range(1, latest_version() + 1)]
    # a new store on the same database takes the dialect the schema was created with
    assert hot_store(tsdb_dsn).setup() is Dialect.TIMESCALE
    assert rows(tsdb_dsn, "SELECT count(*) FROM soc_schema_version") == [(latest_version(),)]


def test_upgrade_from_schema_1_materializes_the_new_aggregates(tsdb_dsn: str) -> None:
    """A deployment of schema 1 holding events: schema 2 replaces its daily summary by a
    hierarchical one and fills all three levels (migrations 030-032)."""
    hot = hot_store(tsdb_dsn)
    assert hot.setup(target_version=1) is Dialect.TIMESCALE
    assert hot.schema_version() == 1
    events = get_parser("waf_json")(
        split_lines(to_jsonl(sqli_burst(T0, "192.168.5.5", n=10)).encode()), "t", T0
    ).events
    assert insert_events(tsdb_dsn, events) == 10
    assert hot.setup() is Dialect.TIMESCALE
    assert hot.schema_version() == latest_version()
    assert hot.aggregate_totals(T0.date()) == {
        "waf_events": 10,
        "waf_events_1m": 10,
        "waf_events_1h": 10,
        "waf_events_daily_summary": 10,
    }
    day = datetime(2026, 3, 10, tzinfo=UTC)
    assert [
        (r["day"], r["rule_id"], r["event_count"], r["distinct_ips"])
        for r in hot.daily_summary(T0.date(), T0.date())
    ] == [(day, "942100", 10, 1)]


def test_hypertable_compression_and_aggregates_in_the_catalog(tsdb_dsn: str) -> None:
    hot_store(tsdb_dsn, HotPolicy(retention_days=90)).setup()
    assert rows(
        tsdb_dsn,
        "SELECT hypertable_name, num_dimensions, compression_enabled "
        "FROM timescaledb_information.hypertables WHERE hypertable_schema = 'public'",
    ) == [("waf_events", 1, True)]
    assert rows(
        tsdb_dsn,
        "SELECT column_name, dimension_type, time_interval FROM timescaledb_information.dimensions "
        "WHERE hypertable_name = 'waf_events'",
    ) == [("event_time", "Time", timedelta(days=1))]
    # README: segment by rule_id, order by client_ip, event_time DESC
    assert rows(
        tsdb_dsn,
        "SELECT attname, segmentby_column_index, orderby_column_index, orderby_asc "
        "FROM timescaledb_information.compression_settings "
        "WHERE hypertable_name = 'waf_events' ORDER BY attname",
    ) == [
        ("client_ip", None, 1, True),
        ("event_time", None, 2, False),
        ("rule_id", 1, None, None),
    ]
    # three continuous aggregates, materialized only, each reading the level below
    caggs = rows(
        tsdb_dsn,
        """
        SELECT c.view_name, c.materialized_only, coalesce(parent.view_name, c.hypertable_name)
        FROM timescaledb_information.continuous_aggregates AS c
        LEFT JOIN timescaledb_information.continuous_aggregates AS parent
          ON parent.materialization_hypertable_name = c.hypertable_name
        ORDER BY c.view_name
        """,
    )
    assert caggs == [
        ("waf_events_1h", True, "waf_events_1m"),
        ("waf_events_1m", True, "waf_events"),
        ("waf_events_daily_summary", True, "waf_events_1h"),
        ("waf_events_geo_1m", True, "waf_events"),
    ]
    assert rows(
        tsdb_dsn,
        "SELECT view_name, time_interval FROM timescaledb_information.dimensions AS d "
        "JOIN timescaledb_information.continuous_aggregates AS c "
        "  ON d.hypertable_name = c.materialization_hypertable_name ORDER BY view_name",
    ) == [  # materialization hypertables are chunked by time too
        ("waf_events_1h", timedelta(days=10)),
        ("waf_events_1m", timedelta(days=10)),
        ("waf_events_daily_summary", timedelta(days=10)),
        ("waf_events_geo_1m", timedelta(days=10)),
    ]
    refresh = "policy_refresh_continuous_aggregate"
    assert jobs(tsdb_dsn) == {
        # refresh policies: the safety nets of migrations 0002/025-027
        (refresh, "waf_events_1m"): {
            "schedule": timedelta(minutes=5),
            "start_offset": timedelta(days=2),
            "end_offset": timedelta(minutes=1),
        },
        (refresh, "waf_events_1h"): {
            "schedule": timedelta(minutes=30),
            "start_offset": timedelta(days=3),
            "end_offset": timedelta(hours=1),
        },
        (refresh, "waf_events_daily_summary"): {
            "schedule": timedelta(hours=1),
            "start_offset": timedelta(days=4),
            "end_offset": timedelta(days=1),
        },
        (refresh, "waf_events_geo_1m"): {  # migration 0006
            "schedule": timedelta(minutes=5),
            "start_offset": timedelta(days=2),
            "end_offset": timedelta(minutes=1),
        },
        # the settings' policies (SOC_HOT_COMPRESS_AFTER_DAYS, *_RETENTION_DAYS)
        ("policy_compression", "waf_events"): {
            "schedule": timedelta(hours=12),
            "compress_after": timedelta(days=7),
        },
        ("policy_retention", "waf_events"): {
            "schedule": timedelta(days=1),
            "drop_after": timedelta(days=90),
        },
        ("policy_retention", "waf_events_1m"): {
            "schedule": timedelta(days=1),
            "drop_after": timedelta(days=180),
        },
        ("policy_retention", "waf_events_1h"): {
            "schedule": timedelta(days=1),
            "drop_after": timedelta(days=730),
        },
        ("policy_retention", "waf_events_geo_1m"): {  # kept like waf_events_1m
            "schedule": timedelta(days=1),
            "drop_after": timedelta(days=180),
        },
    }


def test_policies_follow_the_settings(tsdb_dsn: str) -> None:
    """setup() and maintain() make the policies match the settings: a changed value
    replaces exactly that policy, 0 removes it, a policy dropped behind our back returns."""
    hot = hot_store(tsdb_dsn, HotPolicy(retention_days=90))
    hot.setup()
    before = jobs(tsdb_dsn)
    assert hot.maintain().policies_changed == []

    changed = HotPolicy.of_days(30, 3, 60, 365, 0)
    other = hot_store(tsdb_dsn, changed)
    assert other.setup() is Dialect.TIMESCALE  # a deployment with new settings
    after = jobs(tsdb_dsn)
    assert after[("policy_compression", "waf_events")]["compress_after"] == timedelta(days=3)
    assert after[("policy_retention", "waf_events")]["drop_after"] == timedelta(days=30)
    assert after[("policy_retention", "waf_events_1m")]["drop_after"] == timedelta(days=60)
    assert after[("policy_retention", "waf_events_1h")]["drop_after"] == timedelta(days=365)
    assert rows(
        tsdb_dsn, "SELECT relation, policy, setting FROM soc_policy_applied ORDER BY 1, 2"
    ) == [
        ("waf_events", "compression", "3 days"),
        ("waf_events", "retention", "30 days"),
        ("waf_events_1h", "retention", "365 days"),
        ("waf_events_1m", "retention", "60 days"),
        ("waf_events_daily_summary", "retention", "off"),
        ("waf_events_geo_1m", "retention", "60 days"),  # kept like waf_events_1m
    ]
    refreshes = {k: v for k, v in after.items() if k[0] == "policy_refresh_continuous_aggregate"}
    assert refreshes == {k: v for k, v in before.items() if k in refreshes}
    assert len(refreshes) == 4  # the three levels and waf_events_geo_1m
    assert other.maintain().policies_changed == []

    # retention 0 keeps data forever: the policy goes
    forever = hot_store(tsdb_dsn, HotPolicy.of_days(0, 3, 60, 0, 0))
    forever.setup()
    left = jobs(tsdb_dsn)
    assert ("policy_retention", "waf_events") not in left
    assert ("policy_retention", "waf_events_1h") not in left
    assert ("policy_retention", "waf_events_1m") in left
    assert forever.maintain().policies_changed == []

    # a policy removed outside the product is put back by the daily maintenance
    rows(tsdb_dsn, "SELECT remove_compression_policy('waf_events')")
    report = forever.maintain()
    assert report.dialect == "timescale"
    assert report.policies_changed == ["waf_events compression: 3 days"]
    assert jobs(tsdb_dsn)[("policy_compression", "waf_events")]["compress_after"] == timedelta(
        days=3
    )
    # the failed-job query runs on this version's job_stats (no job ran: none failed)
    assert report.failed_jobs == []


def test_copy_from_stdin_is_refused_and_the_server_lives_on(tsdb_dsn: str) -> None:
    """PGlite's WASM traps on COPY FROM STDIN (the loader's path); serve.mjs answers it with
    an error instead, so the loader fails cleanly here and the suite inserts rows."""
    hot = hot_store(tsdb_dsn)
    hot.setup()
    events = get_parser("waf_json")(
        split_lines(to_jsonl(sqli_burst(T0, "192.168.5.5", n=3)).encode()), "t", T0
    ).events
    with pytest.raises(psycopg.errors.FeatureNotSupported, match="COPY FROM STDIN"):
        hot.load_events(events)
    assert insert_events(tsdb_dsn, events) == 3
    assert hot.count_events(T0.date(), T0.date()) == 3
