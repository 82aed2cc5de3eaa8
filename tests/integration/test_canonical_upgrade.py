"""An existing deployment upgrades in place to the canonical event (issue 11).

The lake and the hot database are created and filled by the code BEFORE the change (the
parent of the commit that added migration 0005, extracted with ``git archive`` and run in
a subprocess, with that code's module paths); then today's code evolves them: the lake
gains the new columns by Iceberg schema evolution (the old snapshot and its rows stay
readable), the database by migration 0005, re-ingesting the old file adds nothing (seed
event ids are unchanged), and new rows, from an extension-less gzip Firehose object of
AWS WAF records, carry the new fields.
"""

import gzip
import io
import json
import shutil
import subprocess
import sys
import tarfile
from datetime import date
from pathlib import Path

import psycopg
import pytest

from soc_platform import sql
from soc_platform.flow import steps
from soc_platform.hot.policy import HotPolicy
from soc_platform.hot.store import HotStore
from soc_platform.lake.iceberg import RAW_EVENTS, Lake, LakeConfig
from tests.helpers import sqli_burst, to_jsonl

ROOT = Path(__file__).resolve().parents[2]
MARKER = "soc_platform/sql/migrations/0005_canonical_event/common/010_waf_events_url_path.sql"

OLD_SCRIPT = """
import json, sys
from soc_platform import pipeline
from soc_platform.stores.hot import HotPolicy, HotStore
from soc_platform.stores.lake import RAW_EVENTS, Lake, LakeConfig
catalog, warehouse, dsn, path = sys.argv[1:5]
lake = Lake(LakeConfig(catalog_uri=catalog, warehouse=warehouse))
report = pipeline.ingest_files(lake, [path], "waf_json")
hot = HotStore(dsn, policy=HotPolicy(retention_days=0))
hot.setup()
pipeline.load_hot(hot, report.events)
table = lake.table(RAW_EVENTS)
print(json.dumps({
    "snapshot": table.current_snapshot().snapshot_id,
    "ids": sorted(report.events["event_id"].to_pylist()),
    "columns": table.schema().column_names,
}))
"""


def _old_code(dest: Path) -> Path:
    """The package as it was before the canonical event, extracted under ``dest``."""
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and the repository's history")
    added = subprocess.run(
        [git, "log", "--diff-filter=A", "--format=%H", "--", MARKER],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    if not added:
        pytest.skip("migration 0005 is not committed yet")
    archive = subprocess.run(
        [git, "archive", f"{added[-1]}^", "soc_platform"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    assert not (dest / MARKER).exists()
    return dest


def aws_record(i: int) -> dict[str, object]:
    return {
        "timestamp": 1773144000000 + i * 1000,  # 2026-03-10T12:00:00Z
        "formatVersion": 1,
        "webaclId": "arn:aws:wafv2:eu-west-1:111122223333:regional/webacl/shop/abc",
        "terminatingRuleId": "SQLiRule",
        "terminatingRuleType": "REGULAR",
        "action": "BLOCK",
        "ruleGroupList": [],
        "nonTerminatingMatchingRules": [{"ruleId": "count-all", "action": "COUNT"}],
        "labels": [{"name": "awswaf:111122223333:webacl:shop:sqli"}],
        "responseCodeSent": 403,
        "httpRequest": {
            "clientIp": "198.51.100.20",
            "country": "FR",
            "headers": [{"name": "Host", "value": "shop.example"}],
            "uri": "/cart",
            "args": "id=1%20or%201=1",
            "httpMethod": "GET",
            "requestId": f"req-{i}",
        },
    }


def test_an_existing_lake_and_database_upgrade_in_place(tmp_path: Path, pg_dsn: str) -> None:
    from datetime import UTC, datetime

    old_src = _old_code(tmp_path / "old")
    catalog = f"sqlite:///{tmp_path / 'catalog.db'}"
    warehouse = (tmp_path / "warehouse").as_uri()
    seed = tmp_path / "landing" / "seed.jsonl"
    seed.parent.mkdir()
    seed.write_text(to_jsonl(sqli_burst(datetime(2026, 3, 10, 11, 0, tzinfo=UTC), "203.0.113.5")))
    proc = subprocess.run(
        [sys.executable, "-c", OLD_SCRIPT, catalog, warehouse, pg_dsn, str(seed)],
        cwd=old_src, capture_output=True, text=True, timeout=300,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(old_src), "HOME": str(tmp_path)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    old = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "url_path" not in old["columns"] and len(old["ids"]) == 12

    # today's code: the lake evolves on first use, the database by migration 0005
    lake = Lake(LakeConfig(catalog_uri=catalog, warehouse=warehouse))
    hot = HotStore(pg_dsn, policy=HotPolicy(retention_days=0))
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT max(version) FROM soc_schema_version").fetchone() == (4,)
    hot.setup()
    assert hot.schema_version() == sql.latest_version() >= 5

    again = steps.ingest_files(lake, [str(seed)])  # auto-detected as the seed format
    assert (again.parsed, again.appended, again.duplicates) == (12, 0, 12)
    assert sorted(again.events["event_id"].to_pylist()) == old["ids"]

    firehose = tmp_path / "landing" / "waf-stream-1-2026-03-10-12-00-00-0a1b2c"
    firehose.write_bytes(
        gzip.compress(b"".join(json.dumps(aws_record(i)).encode() for i in range(3)))
    )
    new = steps.ingest_files(lake, [str(firehose)])
    assert (new.appended, new.dead_letters, new.files_failed) == (3, 0, {})
    steps.load_hot(hot, new.events)
    steps.load_hot(hot, again.events)  # old rows again: nothing changes

    table = lake.table(RAW_EVENTS)
    names = table.schema().column_names
    assert {"url_path", "rule_ids", "observer_vendor", "host_criticality", "raw"} <= set(names)
    before = table.scan(snapshot_id=old["snapshot"]).to_arrow()
    assert sorted(before["event_id"].to_pylist()) == old["ids"]
    assert "url_path" not in before.column_names  # the old snapshot reads as it was written
    rows = lake.read_events(date(2026, 3, 10), date(2026, 3, 10)).to_pylist()
    assert len(rows) == 15
    by_format = {r["source_format"]: r for r in rows}
    assert by_format["waf_json"]["url_path"] is None  # written before: null
    aws = by_format["aws_waf"]
    assert (aws["url_path"], aws["url_query"], aws["rule_ids"]) == (
        "/cart",
        "id=1%20or%201=1",
        ["SQLiRule", "count-all"],
    )
    assert (aws["observer_vendor"], aws["source_country"], aws["action"]) == (
        "AWS",
        "FR",
        "blocked",
    )

    with psycopg.connect(pg_dsn) as conn:
        got = conn.execute(
            "SELECT source_format, count(*), count(url_path), max(rule_ids::text), "
            "max(observer_vendor), max(source_country), max(status_code) "
            "FROM waf_events GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert got == [
        ("aws_waf", 3, 3, "{SQLiRule,count-all}", "AWS", "FR", 403),
        ("waf_json", 12, 0, None, None, None, 403),
    ]
