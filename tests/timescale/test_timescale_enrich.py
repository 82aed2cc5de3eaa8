"""TimescaleDB dialect: the continuous aggregate by AS, country, rule and action
(migration 0006) follows loads and late events, and has its refresh and retention
policies."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from soc_platform.correlation.assets_map import AssetCriticality
from soc_platform.enrich import enrich_events
from soc_platform.enrich.mmdb import MmdbLookup
from soc_platform.hot.store import GEO_1M, HotPolicy
from soc_platform.parsing import get_parser, split_lines
from tests.helpers import sqli_burst, to_jsonl, waf_event
from tests.mmdb_fixtures import asn_db, country_db
from tests.timescale.pglite import connect, hot_store, insert_and_refresh

pytestmark = pytest.mark.timescale

NOON = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
BY_GROUP = """
    SELECT source_as_number, source_country, rule_id, action, count(*)
    FROM waf_events GROUP BY 1, 2, 3, 4"""
GEO_BY_GROUP = f"""
    SELECT source_as_number, source_country, rule_id, action, sum(event_count)::bigint
    FROM {GEO_1M} GROUP BY 1, 2, 3, 4"""


def groups(dsn: str, query: str) -> set[tuple[Any, ...]]:
    with connect(dsn) as conn:
        return set(conn.execute(query).fetchall())  # type: ignore[arg-type]


def enriched(records: list[dict[str, Any]], lookup: MmdbLookup) -> pa.Table:
    result = get_parser("waf_json")(split_lines(to_jsonl(records).encode()), "t", NOON)
    assert result.dead_letters.num_rows == 0
    return enrich_events(result.events, lookup, AssetCriticality())


def test_geo_aggregate_follows_loads(tsdb_dsn: str, tmp_path: Path) -> None:
    hot = hot_store(tsdb_dsn, HotPolicy(retention_days=0, compress_after_days=7))
    hot.setup()
    lookup = MmdbLookup(
        asn_db(tmp_path / "asn.mmdb"),
        country_db(tmp_path / "country.mmdb"),
        asn_global_only=False,
        country_global_only=False,
    )
    events = sqli_burst(NOON, "198.51.100.20", n=12, spacing_s=10)
    events += [waf_event(NOON + timedelta(seconds=s), "2001:db8::9") for s in range(0, 200, 20)]
    insert_and_refresh(hot, enriched(events, lookup))
    assert groups(tsdb_dsn, GEO_BY_GROUP) == groups(tsdb_dsn, BY_GROUP)
    assert {(g[0], g[1]) for g in groups(tsdb_dsn, GEO_BY_GROUP)} == {(64500, "NL"), (64503, "SE")}
    late = sqli_burst(NOON + timedelta(seconds=3), "198.51.100.21", n=2)
    insert_and_refresh(hot, enriched(late, lookup))
    assert groups(tsdb_dsn, GEO_BY_GROUP) == groups(tsdb_dsn, BY_GROUP)
    with connect(tsdb_dsn) as conn:
        every = conn.execute(
            "SELECT proc_name, hypertable_name FROM timescaledb_information.jobs"
        ).fetchall()
    jobs = {proc for proc, relation in every if relation == GEO_1M}
    assert {"policy_refresh_continuous_aggregate", "policy_retention"} <= jobs, every
