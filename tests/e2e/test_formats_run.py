"""``soc-platform run`` over a landing directory holding real WAF logs of every format, in
the layouts shippers write them (extension-less gzip Firehose object, ``.log``, ``.json``
record document, ``.ndjson``): each file detected, every record an event or a dead letter
with its reason, the events in the lake and the hot store with their canonical fields."""

import gzip
import json
import shutil
from pathlib import Path

import psycopg
import pytest

from tests.conftest import REALDATA
from tests.e2e.test_cli import cli, env, lake_of  # noqa: F401 (env is a fixture)

FIREHOSE = "firehose/waf-1-2023-04-24-22-16-52-ab12"  # gzip, no extension
FILES = {
    "aws_waf/aws-waf-security-automations_test_waf_log.ndjson.gz": FIREHOSE,
    "modsecurity_v3_json/elastic-integrations_modsec-audit.selected.ndjson": "modsec/audit.log",
    "cloudflare_firewall/elastic-integrations_firewall_event.record1.ndjson": "cf/fw.ndjson",
}  # fmt: skip


@pytest.mark.skipif(not REALDATA.is_dir(), reason="shared/realdata is not available here")
def test_real_logs_of_every_format_run_end_to_end(env: dict[str, str], pg_dsn: str) -> None:  # noqa: F811
    data = Path(env["SOC_DATA_DIR"])
    landing = data / "landing"
    for source, name in FILES.items():
        (landing / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REALDATA / source, landing / name)
    docs = (REALDATA / "aws_waf/awsdocs_examples.ndjson").read_text().splitlines()
    records = [json.loads(line) for line in docs]
    (landing / "aws" / "export.json").parent.mkdir()
    (landing / "aws" / "export.json").write_text(json.dumps({"Records": records}, indent=2))
    (landing / "other.jsonl.gz").write_bytes(gzip.compress(b'{"msg": "not a WAF log"}\n'))
    run_env = {**env, "SOC_HOT_RETENTION_DAYS": "0", "SOC_PARTITIONS_START": "2019-01-01"}

    report = json.loads(cli(run_env, "run", "--json").stdout)
    assert report["dead_letters"] == 6 + 1, report  # 6 anonymised AWS IPs, the unknown file

    with psycopg.connect(pg_dsn) as conn:
        per_format = conn.execute(
            "SELECT source_format, count(*), count(DISTINCT observer_vendor), "
            "count(url_path), sum(cardinality(rule_ids)) FROM waf_events GROUP BY 1 ORDER BY 1"
        ).fetchall()
        blocked = conn.execute(
            "SELECT host(client_ip), host, url_path, rule_ids, status_code FROM waf_events "
            "WHERE source_format = 'cloudflare'"
        ).fetchall()
    assert per_format == [
        ("aws_waf", 222 + 6, 1, 228, 8),  # rule ids of the 6 documented examples
        ("cloudflare", 1, 1, 1, 1),
        ("modsecurity", 2, 1, 2, 2),
    ]
    assert blocked == [
        (
            "175.16.199.0",
            "xyz.example.com",
            "/abc/checkout",
            ["7dc666e026974dab84884c73b3e2afe1"],
            403,
        )
    ]
    dead = lake_of(data).table("dead_letter").scan().to_arrow().to_pylist()
    reasons = sorted((d["reason"], Path(d["source_file"]).name) for d in dead)
    assert reasons == [
        *[("invalid_ip", "waf-1-2023-04-24-22-16-52-ab12")] * 6,
        ("unknown_format", "other.jsonl.gz"),
    ]
    assert not [p for p in landing.rglob("*") if p.is_file()]  # every file retired
