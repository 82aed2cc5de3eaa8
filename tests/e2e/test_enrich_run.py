"""``soc-platform run`` enriches what it loads: seed-format events from a landing file
reach the lake and the hot store with AS number, organisation and country from the MMDB
files the settings name (tiny fixtures), and host criticality from the asset map; the
seed's question is then answered from the hot store."""

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from soc_platform.hot.store import HotStore
from soc_platform.models import EVENT_SCHEMA
from tests.e2e.test_cli import lake_of
from tests.helpers import clean_environ, sqli_burst, to_jsonl, waf_event
from tests.mmdb_fixtures import asn_db, country_db

CLI = [sys.executable, "-m", "soc_platform.cli"]


@pytest.fixture
def env(work_dir: Path, pg_dsn: str) -> dict[str, str]:
    keep = clean_environ()
    assets = work_dir / "assets.yml"
    assets.write_text("shop.example.com: critical\n'*.example.com': low\n")
    return {
        **keep,
        "SOC_DATA_DIR": str(work_dir / "data"),
        "SOC_PG_DSN": pg_dsn,
        "SOC_GEOIP_ASN_DB": str(asn_db(work_dir / "asn.mmdb")),
        "SOC_GEOIP_COUNTRY_DB": str(country_db(work_dir / "country.mmdb", "geolite2")),
        "SOC_ASSET_CRITICALITY": str(assets),
        "PYTHONWARNINGS": "ignore",
    }


@pytest.mark.skipif(
    "source_as_number" not in EVENT_SCHEMA.names,
    reason="the event schema has no enrichment columns yet (wp/formats' canonical event)",
)
def test_run_loads_enriched_events_and_answers_the_seed_question(
    env: dict[str, str], pg_dsn: str
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(minutes=10)
    events = sqli_burst(start, "198.51.100.200", n=12, spacing_s=5)  # AS 64500, NL
    events += [
        waf_event(start, "2001:db8::5", host="api.example.com"),  # AS 64503, SE
        waf_event(start, "::ffff:192.0.2.9", host="www.example.org"),  # AS 64502, JP
        waf_event(start, "10.1.2.3"),  # in no database
    ]
    landing = Path(env["SOC_DATA_DIR"]) / "landing"
    landing.mkdir(parents=True)
    (landing / "waf.jsonl").write_text(to_jsonl(events))

    proc = subprocess.run(
        [*CLI, "run"], env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr

    with psycopg.connect(pg_dsn) as conn, conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT host(client_ip) AS ip, source_as_number, source_as_org, source_country, "
            "host_criticality, count(*) AS n FROM waf_events GROUP BY 1, 2, 3, 4, 5 ORDER BY 1"
        )
        hot = {r["ip"]: r for r in cur.fetchall()}
    assert {ip: (r["source_as_number"], r["source_country"]) for ip, r in hot.items()} == {
        "10.1.2.3": (None, None),
        "::ffff:192.0.2.9": (64502, "JP"),  # stored as given, looked up as IPv4
        "198.51.100.200": (64500, "NL"),
        "2001:db8::5": (64503, "SE"),
    }, hot
    assert hot["198.51.100.200"]["source_as_org"] == "Example Net A"
    assert hot["198.51.100.200"]["n"] == 12
    assert hot["198.51.100.200"]["host_criticality"] == "critical"
    assert hot["2001:db8::5"]["host_criticality"] == "low"
    assert hot["::ffff:192.0.2.9"]["host_criticality"] is None  # www.example.org: not in the map

    lake = lake_of(Path(env["SOC_DATA_DIR"])).table("raw_waf_events")
    rows = lake.scan(selected_fields=("client_ip", "source_as_number", "source_country"))
    in_lake = {
        (r["client_ip"], r["source_as_number"], r["source_country"])
        for r in rows.to_arrow().to_pylist()
    }
    assert ("198.51.100.200", 64500, "NL") in in_lake
    assert ("10.1.2.3", None, None) in in_lake

    (answer,) = HotStore(pg_dsn).run_query("sqli_from_asn", {"asn": 64500, "now": now})
    assert answer["attempts"] == 12
    (none,) = HotStore(pg_dsn).run_query("sqli_from_asn", {"asn": 64503, "now": now})
    assert none["attempts"] == 0
