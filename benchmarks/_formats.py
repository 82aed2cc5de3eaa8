"""Synthetic records of the AWS WAF, ModSecurity v3 and Cloudflare formats for benchmarks
(shaped like the public samples in shared/realdata, values varied per record)."""

import json
import random
from typing import Any


def _ip(rng: random.Random) -> str:
    # a pool of 2,000 clients, as in real traffic (IPs are validated once per distinct value)
    k = rng.randrange(2000)
    return f"198.51.{k // 250}.{k % 250 + 1}"


def aws_waf(n: int, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        blocked = rng.random() < 0.2
        record: dict[str, Any] = {
            "timestamp": 1773144000000 + i * 37,
            "formatVersion": 1,
            "webaclId": "arn:aws:wafv2:us-east-1:111122223333:global/webacl/shop/47634e95",
            "terminatingRuleId": "AWS-AWSManagedRulesSQLiRuleSet" if blocked else "Default_Action",
            "terminatingRuleType": "MANAGED_RULE_GROUP" if blocked else "REGULAR",
            "action": "BLOCK" if blocked else "ALLOW",
            "terminatingRuleMatchDetails": [],
            "httpSourceName": "CF",
            "httpSourceId": "E1ABCDEF",
            "ruleGroupList": [
                {
                    "ruleGroupId": "AWS#AWSManagedRulesSQLiRuleSet",
                    "terminatingRule": {"ruleId": "SQLi_QUERYARGUMENTS", "action": "BLOCK"}
                    if blocked
                    else None,
                    "nonTerminatingMatchingRules": [],
                    "excludedRules": None,
                }
            ],
            "rateBasedRuleList": [],
            "nonTerminatingMatchingRules": [],
            "requestHeadersInserted": None,
            "responseCodeSent": None,
            "httpRequest": {
                "clientIp": _ip(rng),
                "country": rng.choice(["US", "DE", "CN", "BR"]),
                "headers": [
                    {"name": "Host", "value": "shop.example.com"},
                    {"name": "User-Agent", "value": "Mozilla/5.0 (X11; Linux x86_64) Firefox/120"},
                    {"name": "Accept", "value": "*/*"},
                    {"name": "Cookie", "value": f"session={rng.getrandbits(64):x}"},
                ],
                "uri": f"/products/{rng.randrange(10_000)}",
                "args": "q=1%27%20or%201=1" if blocked else "",
                "httpVersion": "HTTP/1.1",
                "httpMethod": "GET",
                "requestId": f"{rng.getrandbits(96):x}",
            },
            "labels": [{"name": "awswaf:managed:aws:sql-database:SQLi_QueryArguments"}]
            if blocked
            else [],
        }
        out.append(json.dumps(record, separators=(",", ":")))
    return "\n".join(out).encode() + b"\n"


def modsecurity(n: int, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        matched = rng.random() < 0.5
        messages = (
            [
                {
                    "message": "SQL Injection Attack Detected via libinjection",
                    "details": {
                        "match": "detected SQLi using libinjection.",
                        "reference": "v10,8",
                        "ruleId": "942100",
                        "file": "/etc/modsecurity/crs/REQUEST-942-APPLICATION-ATTACK-SQLI.conf",
                        "lineNumber": "45",
                        "data": "Matched Data: s&1c found within ARGS:id: 1' or 1=1",
                        "severity": "2",
                        "ver": "OWASP_CRS/3.3.4",
                        "rev": "",
                        "tags": ["application-multi", "attack-sqli", "OWASP_CRS"],
                        "maturity": "0",
                        "accuracy": "0",
                    },
                },
                {
                    "message": "Inbound Anomaly Score Exceeded (Total Score: 5)",
                    "details": {"ruleId": "949110", "severity": "2", "tags": ["anomaly"]},
                },
            ]
            if matched
            else []
        )
        sec = i % 60
        tx = {
            "client_ip": _ip(rng),
            "time_stamp": f"Tue Mar 10 12:{(i // 60) % 60:02d}:{sec:02d} 2026",
            "server_id": "c06217c4ac0d6f8892d2489cd5d92aaceec2508e",
            "client_port": rng.randrange(1024, 65535),
            "host_ip": "10.0.1.175",
            "host_port": 443,
            "unique_id": f"{1773144000 + i}.{rng.randrange(10**6)}",
            "request": {
                "method": "GET",
                "http_version": 1.1,
                "uri": f"/item.php?id={rng.randrange(1000)}" + ("' or 1=1" if matched else ""),
                "headers": {
                    "Host": "app.example.com",
                    "User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
                    "Accept": "*/*",
                },
            },
            "response": {"http_code": 403 if matched else 200, "headers": {"Server": "nginx"}},
            "producer": {
                "modsecurity": "ModSecurity v3.0.12 (Linux)",
                "connector": "ModSecurity-nginx v1.0.3",
                "secrules_engine": "Enabled",
                "components": ["OWASP_CRS/3.3.4"],
            },
            "messages": messages,
        }
        out.append(json.dumps({"transaction": tx}, separators=(",", ":")))
    return "\n".join(out).encode() + b"\n"


def cloudflare(n: int, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        record = {
            "Action": rng.choice(["block", "managedchallenge", "log", "skip"]),
            "ClientASN": rng.randrange(64496, 65535),
            "ClientASNDescription": "EXAMPLE-NET",
            "ClientCountry": rng.choice(["us", "de", "cn"]),
            "ClientIP": _ip(rng),
            "ClientIPClass": "noRecord",
            "ClientRefererHost": "",
            "ClientRequestHost": "www.example.com",
            "ClientRequestMethod": "GET",
            "ClientRequestPath": f"/wp-login.php/{rng.randrange(1000)}",
            "ClientRequestProtocol": "HTTP/1.1",
            "ClientRequestQuery": "?log=admin",
            "ClientRequestScheme": "https",
            "ClientRequestUserAgent": "python-requests/2.31",
            "Datetime": 1773144000000000000 + i * 1_000_000,
            "EdgeColoCode": "AMS",
            "EdgeResponseStatus": 403,
            "Kind": "firewall",
            "MatchIndex": 0,
            "Metadata": {"filter": "1ced07e066a34abf8b14f2a99593bc8d", "type": "customer"},
            "OriginResponseStatus": 0,
            "OriginatorRayID": "00",
            "RayID": f"{rng.getrandbits(64):016x}",
            "RuleID": f"{rng.getrandbits(128):032x}",
            "Source": "firewallcustom",
        }
        out.append(json.dumps(record, separators=(",", ":")))
    return "\n".join(out).encode() + b"\n"


GENERATORS = {"aws_waf": aws_waf, "modsecurity": modsecurity, "cloudflare": cloudflare}
