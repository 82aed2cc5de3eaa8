"""The MMDB reader over tiny fixture databases, and the embedded DB-IP Lite files."""

from pathlib import Path

import pyarrow as pa
import pytest

from soc_platform.enrich import IpInfo, enrich_events
from soc_platform.enrich.mmdb import (
    EMBEDDED_ASN,
    MmdbLookup,
    embedded_database,
    lookup_of,
)
from soc_platform.errors import ConfigurationError
from soc_platform.settings import load_settings
from tests.mmdb_fixtures import asn_db, country_db


def test_geolite2_layouts(tmp_path: Path) -> None:
    with MmdbLookup(
        asn_db(tmp_path / "asn.mmdb"),
        country_db(tmp_path / "country.mmdb", "geolite2"),
        asn_global_only=False,
        country_global_only=False,
    ) as db:
        assert db.lookup("198.51.100.7") == IpInfo(64500, "Example Net A", "NL")
        assert db.lookup("::ffff:203.0.113.9") == IpInfo(64501, "Example Net B", "DE")
        assert db.lookup("2001:db8:1::5") == IpInfo(64503, "Example Net V6", "SE")
        assert db.lookup("203.0.113.200") == IpInfo()  # outside the /25
        assert db.lookup("not an ip") == IpInfo()


def test_flat_country_and_ipinfo_in_one_file(tmp_path: Path) -> None:
    ipinfo = asn_db(tmp_path / "ipinfo_lite.mmdb", "ipinfo")
    with MmdbLookup(ipinfo, ipinfo, asn_global_only=False, country_global_only=False) as db:
        assert db.lookup("192.0.2.1") == IpInfo(64502, "Example Net C", "JP")
        assert len(db._readers) == 1  # one file opened once
    flat = country_db(tmp_path / "flat.mmdb")
    with MmdbLookup(None, flat, country_global_only=False) as db:
        assert db.lookup("198.51.100.1") == IpInfo(None, None, "NL")


def test_public_databases_say_nothing_about_special_ranges(tmp_path: Path) -> None:
    with MmdbLookup(asn_db(tmp_path / "a.mmdb"), country_db(tmp_path / "c.mmdb")) as db:
        # the fixture holds 198.51.100.0/24, but it is a documentation range
        assert db.lookup("198.51.100.7") == IpInfo()


def test_reader_is_the_c_extension(tmp_path: Path) -> None:
    with MmdbLookup(asn_db(tmp_path / "a.mmdb"), None) as db:
        assert type(db._asn).__module__ == "maxminddb.extension"


def test_a_file_that_is_not_mmdb_is_one_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "GeoLite2-ASN.tar.gz"
    junk.write_bytes(b"\x1f\x8b not an mmdb at all" * 10)
    with pytest.raises(ConfigurationError, match=r"SOC_GEOIP_ASN_DB .*GeoLite2-ASN\.tar\.gz"):
        lookup_of(load_settings({"SOC_DATA_DIR": str(tmp_path), "SOC_GEOIP_ASN_DB": str(junk)}))


def test_settings_name_the_files_or_turn_them_off(tmp_path: Path) -> None:
    asn = asn_db(tmp_path / "asn.mmdb")
    env = {
        "SOC_DATA_DIR": str(tmp_path / "data"),
        "SOC_GEOIP_ASN_DB": str(asn),
        "SOC_GEOIP_COUNTRY_DB": "off",
    }
    settings = load_settings(env)
    assert settings.geoip_asn_db == asn and settings.geoip_country_db == "off"
    with lookup_of(settings) as db:  # type: ignore[union-attr]
        # a configured database answers for every range it holds (one's own networks)
        assert db.lookup("198.51.100.7") == IpInfo(64500, "Example Net A", None)
    assert lookup_of(load_settings({**env, "SOC_GEOIP_ASN_DB": "OFF"})) is None
    with pytest.raises(ConfigurationError, match=r"SOC_GEOIP_COUNTRY_DB=.*no such file"):
        load_settings({**env, "SOC_GEOIP_COUNTRY_DB": str(tmp_path / "missing.mmdb")})


def test_embedded_databases_answer_offline(tmp_path: Path) -> None:
    settings = load_settings({"SOC_DATA_DIR": str(tmp_path)})
    with lookup_of(settings) as db:  # type: ignore[union-attr]
        assert db.lookup("8.8.8.8") == IpInfo(15169, "Google LLC", "US")
        assert db.lookup("::ffff:8.8.8.8") == IpInfo(15169, "Google LLC", "US")
        assert db.lookup("2001:4860:4860::8888")[0] == 15169
        assert db.lookup("1.1.1.1")[0] == 13335
        assert db.lookup("193.0.6.139")[:1] == (3333,)  # RIPE NCC
        assert db.lookup("10.0.0.1") == IpInfo()
        assert db.lookup("203.0.113.5") == IpInfo()
        table = pa.table({"client_ip": ["8.8.8.8", "10.0.0.1"], "host": ["a", "b"]})
        out = enrich_events(table, db)
        assert out["source_country"].to_pylist() == ["US", None]


def test_embedded_database_is_decompressed_once(tmp_path: Path) -> None:
    first = embedded_database(EMBEDDED_ASN, tmp_path)
    stamp = first.stat().st_mtime_ns
    assert first.parent == tmp_path / "ipdb"
    assert embedded_database(EMBEDDED_ASN, tmp_path) == first
    assert first.stat().st_mtime_ns == stamp
    assert [p.name for p in first.parent.iterdir()] == [first.name]  # no temporary left
