"""Tiny MMDB databases for tests, built with mmdb-writer in documentation ranges
(RFC 5737 / RFC 3849) and private AS numbers (RFC 6996), so nothing looks like real data."""

from pathlib import Path
from typing import Any

from mmdb_writer import MmdbU32, MMDBWriter
from netaddr import IPSet

#: network -> (AS number, organisation, country)
NETWORKS: dict[str, tuple[int, str, str]] = {
    "198.51.100.0/24": (64500, "Example Net A", "NL"),
    "203.0.113.0/25": (64501, "Example Net B", "DE"),
    "192.0.2.0/24": (64502, "Example Net C", "JP"),
    "2001:db8::/32": (64503, "Example Net V6", "SE"),
}


def write_mmdb(path: Path, records: dict[str, dict[str, Any]], kind: str = "soc-test") -> Path:
    writer = MMDBWriter(
        ip_version=6,
        ipv4_compatible=True,  # IPv4 lookups work in an IPv6 tree
        database_type=kind,
        description={"en": "soc-platform test fixture"},
        languages=["en"],
        int_type="u32",
    )
    for network, record in records.items():
        writer.insert_network(IPSet([network]), record)
    writer.to_db_file(str(path))
    return path


def asn_db(path: Path, layout: str = "geolite2") -> Path:
    """An ASN database: GeoLite2 / DB-IP keys, or IPinfo Lite's (``ipinfo``, which also
    holds the country)."""
    records: dict[str, dict[str, Any]] = {}
    for network, (number, org, country) in NETWORKS.items():
        if layout == "ipinfo":
            records[network] = {
                "asn": f"AS{number}",
                "as_name": org,
                "as_domain": "example.net",
                "country": "Some Country",
                "country_code": country,
                "continent_code": "EU",
            }
        else:
            records[network] = {
                "autonomous_system_number": MmdbU32(number),
                "autonomous_system_organization": org,
            }
    return write_mmdb(path, records, f"soc-test-ASN-{layout}")


def country_db(path: Path, layout: str = "flat") -> Path:
    """A country database: the flat ``country_code`` layout or GeoLite2's ``country``."""
    records: dict[str, dict[str, Any]] = {}
    for network, (_number, _org, country) in NETWORKS.items():
        if layout == "geolite2":
            records[network] = {
                "country": {"iso_code": country, "names": {"en": "Somewhere"}},
                "continent": {"code": "EU"},
            }
        else:
            records[network] = {"country_code": country}
    return write_mmdb(path, records, f"soc-test-Country-{layout}")
