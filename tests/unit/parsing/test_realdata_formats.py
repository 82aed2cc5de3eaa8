"""Conformance: every record of the public WAF samples in shared/realdata, read in place
through the path every source takes (bytes -> layout -> detected format -> parser),
becomes an event, or a dead letter with a specific reason where the source record is
malformed. Field values are asserted, not only counts."""

from datetime import UTC, datetime
from typing import Any

import pytest

from soc_platform.parsing.detect import parse_bytes
from tests.conftest import REALDATA

INGESTED = datetime(2026, 12, 1, tzinfo=UTC)

pytestmark = pytest.mark.skipif(
    not REALDATA.is_dir(), reason="shared/realdata (public WAF samples) is not available here"
)

#: file -> (format, records, events, dead letters by reason)
COUNTS = {
    "aws_waf/awsdocs_examples.ndjson": ("aws_waf", 6, 6, {}),
    # 6 records hold the anonymised clientIp "X.X.X.X"
    "aws_waf/aws-waf-security-automations_test_waf_log.ndjson.gz": (
        "aws_waf",
        228,
        222,
        {"invalid_ip": 6},
    ),
    "aws_waf/aws-waf-security-automations_test_waf_log.first20.ndjson": (
        "aws_waf",
        20,
        14,
        {"invalid_ip": 6},
    ),
    "modsecurity_v3_json/elastic-integrations_modsec-audit.selected.ndjson": (
        "modsecurity",
        2,
        2,
        {},
    ),
    "modsecurity_v3_json/elastic-integrations_test-audit.record2.ndjson": (
        "modsecurity",
        1,
        1,
        {},
    ),
    "cloudflare_firewall/elastic-integrations_firewall_event.record1.ndjson": (
        "cloudflare",
        1,
        1,
        {},
    ),
    # lines 6-18 of Panther's test logs are other log types (CloudTrail, Okta, ...)
    "cloudflare_firewall/panther-analysis_test_logs.ndjson": (
        "cloudflare",
        19,
        6,
        {"unknown_format": 13},
    ),
}


def parsed(name: str) -> tuple[dict[int, dict[str, Any]], list[dict[str, Any]], int]:
    path = REALDATA / name
    if not path.is_file():
        pytest.skip(f"{name} is not in shared/realdata")
    result = parse_bytes(path.read_bytes(), str(path), INGESTED)
    events = {e["source_offset"]: e for e in result.events.to_pylist()}
    return events, result.dead_letters.to_pylist(), result.lines_read


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_every_record_is_an_event_or_a_specific_dead_letter(name: str) -> None:
    fmt, records, n_events, reasons = COUNTS[name]
    events, dead, read = parsed(name)
    assert read == records
    assert len(events) == n_events
    assert {e["source_format"] for e in events.values()} <= {fmt}
    counted: dict[str, int] = {}
    for d in dead:
        counted[d["reason"]] = counted.get(d["reason"], 0) + 1
    assert counted == reasons
    assert sorted([*events, *(d["source_offset"] for d in dead)]) == list(range(records))
    for e in events.values():
        assert e["raw"] and e["observer_vendor"] and e["event_id"]


def check(event: dict[str, Any], **expected: Any) -> None:
    assert {k: event[k] for k in expected} == expected


def test_aws_waf_documentation_examples() -> None:
    events, _, _ = parsed("aws_waf/awsdocs_examples.ndjson")
    check(
        events[0],
        event_time=datetime(2019, 12, 13, 23, 40, 12, 771000, tzinfo=UTC),
        client_ip="1.1.1.1",
        request_method="GET",
        host="localhost:1989",
        url_path="/myUri",
        url_query=None,
        action="blocked",
        rule_id="STMTest_SQLi_XSS",
        rule_ids=["STMTest_SQLi_XSS"],
        status_code=None,
        source_country="AU",
        user_agent="curl/7.61.1",
        request_id="rid",
    )
    # a non-terminating SQLi match (COUNT): the request went through; its malformed
    # header object (no "value") is read as a header without a value
    check(events[1], client_ip="3.3.3.3", action="detected", rule_ids=["TestRule"])
    # a rule group's terminating rule and its non-terminating matches, in AWS's order
    check(
        events[2],
        action="blocked",
        rule_id="RG-Reference",
        rule_ids=["RG-Reference", "RuleA-XSS", "RuleB-SQLi"],
    )
    check(events[3], request_method="POST", host=None, url_path="", action="blocked")
    # CAPTCHA: a valid token (non-terminating), then a puzzle sent with status 405
    check(events[4], action="detected", rule_ids=["captcha-rule"], status_code=None)
    check(
        events[5],
        event_time=datetime(2021, 9, 23, 18, 6, 56, 512000, tzinfo=UTC),
        client_ip="72.21.198.65",
        host="b34myvfw0b.gamma.execute-api.us-east-1.amazonaws.com",
        url_path="/pen-test/pets",
        action="blocked",
        status_code=405,
    )


def test_aws_waf_security_automations_log() -> None:
    events, dead, _ = parsed("aws_waf/aws-waf-security-automations_test_waf_log.ndjson.gz")
    assert [d["source_offset"] for d in dead] == [0, 1, 2, 3, 4, 5]
    assert all("'X.X.X.X' is not an IP address" in d["detail"] for d in dead)
    check(
        events[6],
        event_time=datetime(2023, 4, 24, 22, 16, 52, 491000, tzinfo=UTC),
        client_ip="72.21.196.68",
        request_method="GET",
        host="XXXXXXXXXXXXXX.cloudfront.net",
        url_path="/socket.io/",
        url_query="EIO=4&transport=polling&t=Nlqwdal",
        request_uri="/socket.io/?EIO=4&transport=polling&t=Nlqwdal",
        action="allowed",
        rule_ids=[],
        rule_id=None,
        source_country="CN",
    )
    check(events[8], url_path="/rest/admin/application-configuration", url_query=None)
    check(
        events[227],
        event_time=datetime(2023, 4, 24, 22, 21, 45, 647000, tzinfo=UTC),
        client_ip="72.21.196.66",
        url_query="EIO=4&transport=polling&t=Nlqxl9O",
        source_country="US",
    )
    assert {e["action"] for e in events.values()} == {"allowed"}
    assert {e["observer_product"] for e in events.values()} == {"AWS WAF"}


def test_modsecurity_audit_records() -> None:
    events, _, _ = parsed("modsecurity_v3_json/elastic-integrations_modsec-audit.selected.ndjson")
    check(
        events[0],
        event_time=datetime(2021, 5, 14, 14, 52, 47, tzinfo=UTC),
        client_ip="67.43.156.14",
        request_method="GET",
        host="34.87.56.16",
        url_path="/owa/",
        url_query=None,
        status_code=404,
        action="detected",  # a 404 from the application, not a deny
        rule_id="920350",
        rule_ids=["920350"],
        rule_names=["Host header is a numeric IP address"],
        request_id="162100396753.595789",
        observer_vendor="OWASP/ModSecurity",
    )
    assert "attack-protocol" in events[0]["rule_tags"]
    check(events[1], client_ip="67.43.156.15", status_code=200, user_agent=None)
    (event,) = parsed("modsecurity_v3_json/elastic-integrations_test-audit.record2.ndjson")[
        0
    ].values()
    # the space-padded asctime day; a 403 with no rule matched is not the WAF's
    check(
        event,
        event_time=datetime(2022, 5, 9, 9, 41, 59, tzinfo=UTC),
        client_ip="89.160.20.112",
        host="test.com.mm",
        user_agent="wp_is_mobile",
        url_path="/admin/controller/extension/extension/alfacgiapi",
        status_code=403,
        action="allowed",
        rule_ids=[],
        request_id="165208931921.140928",
    )


def test_cloudflare_firewall_events() -> None:
    (event,) = parsed("cloudflare_firewall/elastic-integrations_firewall_event.record1.ndjson")[
        0
    ].values()
    check(
        event,
        event_time=datetime(2022, 5, 31, 5, 23, 43, tzinfo=UTC),
        client_ip="175.16.199.0",
        request_method="GET",
        host="xyz.example.com",
        url_path="/abc/checkout",
        status_code=403,
        action="blocked",
        rule_ids=["7dc666e026974dab84884c73b3e2afe1"],
        request_id="713d477539b55c29",
        source_country="US",
        source_as_number=15169,
        source_as_org="CLOUDFLARENET",
        rule_tags=["firewallrules"],
    )
    assert event["url_query"].startswith("sourcerer=(default")  # the leading "?" dropped
    events, dead, _ = parsed("cloudflare_firewall/panther-analysis_test_logs.ndjson")
    check(
        events[0],
        event_time=datetime(2022, 5, 10, 6, 36, 57, tzinfo=UTC),
        client_ip="127.0.0.1",
        host="example.com",
        url_path="/main.php",
        url_query=None,
        action="allowed",  # "skip"
        status_code=403,
        source_country="IN",
        source_as_number=55836,
    )
    check(events[1], action="blocked", rule_ids=["ed651449c4a54f4b99c6e3bf863134d5"])
    check(
        events[4],
        client_ip="1.2.3.40",
        request_method="GET",
        host="example.org",
        url_path="/search",
        url_query="q=malicious",
        source_country="CN",
    )
    check(events[3], request_method="POST", url_path="/api/upload", client_ip="1.2.3.4")
    assert [d["source_offset"] for d in dead] == list(range(6, 19))
    assert "AWS.CloudTrail" in dead[0]["detail"]
