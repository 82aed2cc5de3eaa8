"""The hot store's enrichment schema (migration 0006) on plain PostgreSQL: the aggregate by
AS, country, rule and action follows loads, late events and day rebuilds exactly, and
the seed's question reads its index."""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pytest

from soc_platform.correlation.assets_map import AssetCriticality
from soc_platform.enrich import enrich_events
from soc_platform.enrich.mmdb import MmdbLookup
from soc_platform.hot.store import GEO_1M, HotPolicy, HotStore
from soc_platform.parsing import get_parser, split_lines
from tests.helpers import sqli_burst, to_jsonl, waf_event
from tests.mmdb_fixtures import asn_db, country_db

DAY = date(2026, 3, 10)
NOON = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
BY_GROUP = """
    SELECT source_as_number, source_country, rule_id, action, count(*)
    FROM waf_events GROUP BY 1, 2, 3, 4"""
GEO_BY_GROUP = f"""
    SELECT source_as_number, source_country, rule_id, action, sum(event_count)::bigint
    FROM {GEO_1M} GROUP BY 1, 2, 3, 4"""


@pytest.fixture
def hot(pg_dsn: str) -> HotStore:
    store = HotStore(pg_dsn, policy=HotPolicy(retention_days=0))
    store.setup()
    return store


@pytest.fixture
def lookup(tmp_path: Path) -> MmdbLookup:
    return MmdbLookup(
        asn_db(tmp_path / "asn.mmdb"),
        country_db(tmp_path / "country.mmdb"),
        asn_global_only=False,
        country_global_only=False,
    )


def enriched(records: list[dict[str, Any]], lookup: MmdbLookup) -> pa.Table:
    result = get_parser("waf_json")(split_lines(to_jsonl(records).encode()), "t", NOON)
    assert result.dead_letters.num_rows == 0
    return enrich_events(result.events, lookup, AssetCriticality())


def groups(dsn: str, query: str) -> set[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return set(conn.execute(query).fetchall())  # type: ignore[arg-type]


def traffic() -> list[dict[str, Any]]:
    events = sqli_burst(NOON, "198.51.100.20", n=12, spacing_s=10)  # AS 64500
    events += sqli_burst(NOON, "2001:db8::7", n=5, spacing_s=30)  # AS 64503
    events += [waf_event(NOON + timedelta(seconds=s), "192.0.2.4") for s in range(0, 300, 20)]
    events += [waf_event(NOON, "10.9.8.7", status=404)]  # in no database
    return events


def test_geo_aggregate_follows_loads_late_events_and_rebuilds(
    hot: HotStore, lookup: MmdbLookup
) -> None:
    hot.load_events(enriched(traffic(), lookup))
    assert groups(hot.dsn, GEO_BY_GROUP) == groups(hot.dsn, BY_GROUP)
    assert {(g[0], g[1]) for g in groups(hot.dsn, GEO_BY_GROUP)} == {
        (64500, "NL"),
        (64503, "SE"),
        (64502, "JP"),
        (None, None),  # 10.9.8.7
    }
    # a late event in an already summarised minute
    late = sqli_burst(NOON + timedelta(seconds=5), "198.51.100.21", n=1)
    hot.load_events(enriched(late, lookup))
    assert groups(hot.dsn, GEO_BY_GROUP) == groups(hot.dsn, BY_GROUP)
    # a rebuild of the day from fewer events: vanished groups go too
    hot.replace_day(DAY, lambda: enriched(traffic()[:12], lookup))
    assert groups(hot.dsn, GEO_BY_GROUP) == groups(hot.dsn, BY_GROUP)
    with psycopg.connect(hot.dsn) as conn:
        (total,) = conn.execute(f"SELECT sum(event_count) FROM {GEO_1M}").fetchone()  # type: ignore[misc]
    assert total == 12


def test_the_migration_is_idempotent(hot: HotStore) -> None:
    from soc_platform import sql

    (last,) = [m for m in sql.migrations("plain") if m.name == "enrichment"]
    with psycopg.connect(hot.dsn) as conn:
        for _, statement in last.statements:
            conn.execute(statement)  # every statement may run again
