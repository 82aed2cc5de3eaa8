"""Enrichment over Arrow tables, with an in-memory lookup counting its calls."""

import pyarrow as pa
import pytest

from soc_platform.correlation.assets_map import AssetCriticality
from soc_platform.enrich import ENRICHMENT_FIELDS, IpInfo, enrich_events

TABLE = {
    "198.51.100.7": IpInfo(64500, "Example Net A", "NL"),
    "2001:db8::1": IpInfo(64503, "Example Net V6", "SE"),
}


class CountingLookup:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def lookup(self, ip: str) -> IpInfo:
        self.calls.append(ip)
        return TABLE.get(ip, IpInfo())


def _events(
    ips: list[str | None], hosts: list[str | None] | None = None, **extra: pa.Array
) -> pa.Table:
    columns = {"client_ip": pa.array(ips, pa.string())}
    columns["host"] = pa.array(hosts or ["shop.example.com"] * len(ips), pa.string())
    columns.update(extra)
    return pa.table(columns)


def test_one_lookup_per_distinct_ip_spread_to_every_row() -> None:
    ips = ["198.51.100.7", "192.0.2.9", "198.51.100.7", "2001:db8::1", "198.51.100.7"]
    lookup = CountingLookup()
    out = enrich_events(_events(ips), lookup)
    assert sorted(lookup.calls) == sorted(set(ips))
    assert out["source_as_number"].to_pylist() == [64500, None, 64500, 64503, 64500]
    assert out["source_as_org"].to_pylist()[3] == "Example Net V6"
    assert out["source_country"].to_pylist() == ["NL", None, "NL", "SE", "NL"]
    assert out.column_names[:2] == ["client_ip", "host"]  # the input columns, untouched
    for f in ENRICHMENT_FIELDS:
        assert out.schema.field(f.name).type == f.type


def test_chunked_input_and_null_addresses() -> None:
    table = pa.concat_tables(
        [_events(["198.51.100.7", None]), _events(["198.51.100.7", "2001:db8::1"])]
    )
    assert table["client_ip"].num_chunks == 2
    lookup = CountingLookup()
    out = enrich_events(table, lookup)
    assert out["source_as_number"].to_pylist() == [64500, None, 64500, 64503]
    assert len(lookup.calls) == 2


def test_values_the_waf_gave_are_kept() -> None:
    # Cloudflare gives ClientCountry and ClientASN; AWS gives httpRequest.country
    table = _events(
        ["198.51.100.7", "198.51.100.7", "198.51.100.7"],
        source_country=pa.array(["US", None, None], pa.string()),
        source_as_number=pa.array([13335, None, 64500], pa.int64()),
        source_as_org=pa.array([None, None, "Given Org"], pa.string()),
    )
    out = enrich_events(table, CountingLookup())
    assert out["source_country"].to_pylist() == ["US", "NL", "NL"]
    assert out["source_as_number"].to_pylist() == [13335, 64500, 64500]
    # the database's organisation belongs to its AS number, not to the one the WAF gave
    assert out["source_as_org"].to_pylist() == [None, "Example Net A", "Given Org"]
    assert out.column_names.count("source_country") == 1


def test_host_criticality_per_distinct_host() -> None:
    assets = AssetCriticality(
        hosts={"shop.example.com": "critical", "*.internal.example.com": "low"}, default="medium"
    )
    hosts = ["SHOP.example.com:443", "a.internal.example.com", None, "other.example.org"]
    out = enrich_events(_events(["192.0.2.1"] * 4, hosts), None, assets)
    assert out["host_criticality"].to_pylist() == ["critical", "low", "medium", "medium"]
    assert out["source_as_number"].to_pylist() == [None] * 4


def test_without_a_map_criticality_is_unknown() -> None:
    assets = AssetCriticality(hosts={"shop.example.com": "high"})
    out = enrich_events(
        _events(["192.0.2.1", "192.0.2.1"], ["shop.example.com", "x.org"]), None, assets
    )
    assert out["host_criticality"].to_pylist() == ["high", None]
    assert enrich_events(_events(["192.0.2.1"]))["host_criticality"].to_pylist() == [None]


@pytest.mark.parametrize("rows", [0, 1])
def test_empty_and_tiny_tables(rows: int) -> None:
    out = enrich_events(_events(["198.51.100.7"] * rows), CountingLookup(), AssetCriticality())
    assert out.num_rows == rows
    assert {f.name for f in ENRICHMENT_FIELDS} <= set(out.column_names)
