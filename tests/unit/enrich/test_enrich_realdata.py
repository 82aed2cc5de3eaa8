"""Real WAF samples (shared/realdata, read in place) through the parsers and enrichment
with the embedded databases: a value the WAF gave is kept, the rest is filled."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from soc_platform.enrich import enrich_events
from soc_platform.enrich.mmdb import lookup_of
from soc_platform.parsing.detect import parse_bytes
from soc_platform.settings import load_settings
from tests.conftest import REALDATA


def _enriched(name: str, data_dir: Path) -> list[dict[str, object]]:
    path = REALDATA / name
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared real-data set is not checked out here")
    events = parse_bytes(path.read_bytes(), name, datetime.now(UTC)).events
    given = events.select(["client_ip", "source_as_number", "source_country"]).to_pylist()
    with lookup_of(load_settings({"SOC_DATA_DIR": str(data_dir)})) as db:  # type: ignore[union-attr]
        out = enrich_events(events, db).to_pylist()
    return [{**o, "given": g} for o, g in zip(out, given, strict=True)]


def test_cloudflare_country_and_asn_are_kept(tmp_path: Path) -> None:
    rows = _enriched(
        "cloudflare_firewall/elastic-integrations_firewall_event.record1.ndjson", tmp_path
    )
    (row,) = rows
    assert row["given"]["source_as_number"] is not None
    assert row["source_as_number"] == row["given"]["source_as_number"]
    assert row["source_country"] == row["given"]["source_country"]


def test_aws_country_kept_and_asn_filled(tmp_path: Path) -> None:
    rows = _enriched("aws_waf/awsdocs_examples.ndjson", tmp_path)
    one = next(r for r in rows if r["client_ip"] == "1.1.1.1")
    assert one["given"]["source_country"] == one["source_country"] == "AU"  # AWS's word
    assert one["given"]["source_as_number"] is None
    assert one["source_as_number"] == 13335  # from the embedded ASN database


def test_modsecurity_gets_both_from_the_databases(tmp_path: Path) -> None:
    rows = _enriched(
        "modsecurity_v3_json/elastic-integrations_modsec-audit.selected.ndjson", tmp_path
    )
    assert rows and all(r["given"]["source_country"] is None for r in rows)
    assert all(r["source_as_number"] and r["source_country"] for r in rows)
