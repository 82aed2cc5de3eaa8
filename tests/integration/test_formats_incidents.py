"""Every WAF format reaches incidents: a scanner campaign written as AWS WAF v2 (its
managed SQL injection rules too), ModSecurity v3 (its CRS SQL injection matches too) and
Cloudflare firewall records is parsed (format detected), loaded into the hot store and
correlated by the built-in pack."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from soc_platform.correlation.detection import default_detection
from soc_platform.days import event_days
from soc_platform.hot.store import HotPolicy, HotStore
from soc_platform.incidents import engine
from soc_platform.parsing.detect import parse_bytes

START = datetime(2026, 3, 10, 10, 0, 5, tzinfo=UTC)
N = 12  # requests of the campaign, 10 s apart
UA = "sqlmap/1.8.2#stable (https://sqlmap.org)"


def aws_waf(ip: str) -> list[dict[str, Any]]:
    return [
        {
            "timestamp": int((START + timedelta(seconds=10 * i)).timestamp() * 1000),
            "formatVersion": 1,
            "webaclId": "arn:aws:wafv2:eu-west-1:111122223333:regional/webacl/shop/abc",
            "terminatingRuleId": "AWS-AWSManagedRulesSQLiRuleSet",
            "terminatingRuleType": "MANAGED_RULE_GROUP",
            "action": "BLOCK",
            "httpSourceName": "ALB",
            "ruleGroupList": [
                {
                    "ruleGroupId": "AWS#AWSManagedRulesSQLiRuleSet",
                    "terminatingRule": {"ruleId": "SQLi_QUERYARGUMENTS", "action": "BLOCK"},
                    "nonTerminatingMatchingRules": [],
                    "excludedRules": None,
                }
            ],
            "rateBasedRuleList": [],
            "nonTerminatingMatchingRules": [],
            "labels": [{"name": "awswaf:managed:aws:sql-database:SQLi_QueryArguments"}],
            "httpRequest": {
                "clientIp": ip,
                "country": "DE",
                "headers": [
                    {"name": "Host", "value": "shop.example"},
                    {"name": "User-Agent", "value": UA},
                ],
                "uri": "/search",
                "args": f"q=1%27%20OR%20{i}=1",
                "httpVersion": "HTTP/1.1",
                "httpMethod": "GET",
                "requestId": f"1-abc-{i}",
            },
        }
        for i in range(N)
    ]


def modsecurity(ip: str) -> list[dict[str, Any]]:
    def stamp(i: int) -> str:
        return (START + timedelta(seconds=10 * i)).strftime("%a %b %d %H:%M:%S %Y")

    crs = {
        "message": "SQL Injection Attack Detected via libinjection",
        "details": {"ruleId": "942100", "severity": "2", "tags": ["attack-sqli"]},
    }
    return [
        {
            "transaction": {
                "client_ip": ip,
                "time_stamp": stamp(i),
                "server_id": "x",
                "unique_id": f"17731440{i:04d}.1",
                "request": {
                    "method": "GET",
                    "http_version": 1.1,
                    "uri": f"/index.php?id={i} union select",
                    "headers": {"Host": "app.example", "User-Agent": UA},
                },
                "response": {"http_code": 403, "headers": {}},
                "producer": {"secrules_engine": "Enabled"},
                "messages": [crs],
            }
        }
        for i in range(N)
    ]


def cloudflare(ip: str) -> list[dict[str, Any]]:
    return [
        {
            "Action": "block",
            "ClientIP": ip,
            "ClientRequestHost": "www.example",
            "ClientRequestMethod": "GET",
            "ClientRequestPath": "/products",
            "ClientRequestQuery": f"?id={i}%27",
            "ClientRequestUserAgent": UA,
            "Datetime": (START + timedelta(seconds=10 * i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "EdgeResponseStatus": 403,
            "Kind": "firewall",
            "MatchIndex": 0,
            "RayID": f"713d4775{i:08x}",
            "RuleID": "7dc666e0",
            "Source": "firewallManaged",
        }
        for i in range(N)
    ]


FORMATS = {
    "aws_waf": (aws_waf, "198.51.100.21"),
    "modsecurity": (modsecurity, "198.51.100.22"),
    "cloudflare": (cloudflare, "2001:db8::23"),
}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_each_format_reaches_incidents(fmt: str, pg_dsn: str) -> None:
    build, ip = FORMATS[fmt]
    data = "".join(json.dumps(r) + "\n" for r in build(ip)).encode()
    parsed = parse_bytes(data, f"landing/{fmt}.log", datetime.now(UTC))  # detected: auto
    assert parsed.dead_letters.num_rows == 0, parsed.dead_letters.to_pylist()
    assert parsed.events.num_rows == N
    assert set(parsed.events["source_format"].to_pylist()) == {fmt}

    hot = HotStore(pg_dsn, policy=HotPolicy(retention_days=0))
    hot.setup()
    assert hot.load_events(parsed.events.drop_columns(["raw"])).inserted == N
    days = event_days(parsed.events["event_time"])
    report = engine.correlate_days(hot, days, default_detection())
    fired = {(i.rule, i.client_ip, i.event_count) for i in report.incidents}
    assert ("waf-scanner-user-agent", ip, N) in fired, fired
    # CRS 942100 on every ModSecurity transaction, AWS's managed SQL database rules on every
    # AWS request (the label the rule set adds): the seed's SQLi burst
    if fmt in ("modsecurity", "aws_waf"):
        assert ("waf-sqli-burst", ip, N) in fired, fired
