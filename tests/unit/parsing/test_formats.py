"""The AWS WAF, ModSecurity/Coraza and Cloudflare parsers, record layouts, detection, the
seed's new columns and the ECS export (pure: no servers)."""

import gzip
import json
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest

from soc_platform.errors import ConfigurationError
from soc_platform.models import LAKE_EVENT_SCHEMA
from soc_platform.parsing import get_parser, split_lines
from soc_platform.parsing.detect import RecordParser, detect, format_name, parse_bytes
from soc_platform.parsing.ecs import ECS_FIELDS, to_ecs_documents
from soc_platform.parsing.records import iter_record_blocks

INGESTED = datetime(2026, 3, 11, tzinfo=UTC)


def jl(*records: dict[str, Any]) -> bytes:
    return b"\n".join(json.dumps(r).encode() for r in records) + b"\n"


def rows(fmt: str, data: bytes) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    result = get_parser(fmt)(split_lines(data), "f", INGESTED)
    assert result.events.schema == LAKE_EVENT_SCHEMA
    events = sorted(result.events.to_pylist(), key=lambda r: r["source_offset"])
    return events, result.dead_letters.to_pylist()


# -- AWS WAF ----------------------------------------------------------------------------


def aws(**over: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "timestamp": 1773144000123,
        "formatVersion": 1,
        "webaclId": "arn:aws:wafv2:eu-west-1:111122223333:regional/webacl/shop/abc",
        "terminatingRuleId": "Default_Action",
        "terminatingRuleType": "REGULAR",
        "action": "ALLOW",
        "httpSourceName": "ALB",
        "ruleGroupList": [],
        "rateBasedRuleList": [],
        "nonTerminatingMatchingRules": [],
        "httpRequest": {
            "clientIp": "198.51.100.7",
            "country": "DE",
            "headers": [
                {"name": "host", "value": "shop.example"},
                {"name": "USER-AGENT", "value": "sqlmap/1.7"},
            ],
            "uri": "/search",
            "args": "q=1%27",
            "httpVersion": "HTTP/1.1",
            "httpMethod": "GET",
            "requestId": "1-abc",
        },
    }
    record.update(over)
    return record


def test_aws_waf_record_maps_every_field() -> None:
    blocked = aws(
        action="BLOCK",
        terminatingRuleId="AWS-AWSManagedRulesSQLiRuleSet",
        terminatingRuleType="MANAGED_RULE_GROUP",
        ruleGroupList=[
            {
                "ruleGroupId": "AWS#AWSManagedRulesSQLiRuleSet",
                "terminatingRule": {"ruleId": "SQLi_QUERYARGUMENTS", "action": "BLOCK"},
                "nonTerminatingMatchingRules": [{"ruleId": "SQLi_BODY", "action": "COUNT"}],
                "excludedRules": [{"exclusionType": "EXCLUDED_AS_COUNT", "ruleId": "X"}],
            }
        ],
        nonTerminatingMatchingRules=[{"ruleId": "count-bots", "action": "COUNT"}],
        labels=[{"name": "awswaf:managed:aws:sql-database:SQLi_QueryArguments"}],
        responseCodeSent=403,
    )
    (event,), dead = rows("aws_waf", jl(blocked))
    assert dead == []
    assert event["event_time"] == datetime(2026, 3, 10, 12, 0, 0, 123000, tzinfo=UTC)
    assert event["client_ip"] == "198.51.100.7"
    assert (event["host"], event["user_agent"]) == ("shop.example", "sqlmap/1.7")
    assert event["request_uri"] == "/search?q=1%27"
    assert (event["url_path"], event["url_query"]) == ("/search", "q=1%27")
    assert event["status_code"] == 403 and event["action"] == "blocked"
    assert event["rule_id"] == "AWS-AWSManagedRulesSQLiRuleSet"
    assert event["rule_ids"] == [
        "AWS-AWSManagedRulesSQLiRuleSet",
        "SQLi_QUERYARGUMENTS",
        "SQLi_BODY",
        "X",  # an excluded rule: matched, set to count
        "count-bots",
    ]
    assert event["labels"] == ["awswaf:managed:aws:sql-database:SQLi_QueryArguments"]
    assert (event["request_id"], event["source_country"]) == ("1-abc", "DE")
    assert (event["observer_vendor"], event["observer_product"]) == ("AWS", "AWS WAF")
    assert event["raw"] == json.dumps(blocked)


@pytest.mark.parametrize(
    ("action", "counted", "expected"),
    [
        ("ALLOW", False, "allowed"),
        ("ALLOW", True, "detected"),
        ("BLOCK", False, "blocked"),
        ("CAPTCHA", False, "blocked"),
        ("CHALLENGE", True, "blocked"),
        ("COUNT", True, "detected"),
        ("SOMETHING_NEW", False, "detected"),
    ],
)
def test_aws_waf_actions(action: str, counted: bool, expected: str) -> None:
    non = [{"ruleId": "r1", "action": "COUNT"}] if counted else []
    (event,), _ = rows("aws_waf", jl(aws(action=action, nonTerminatingMatchingRules=non)))
    assert event["action"] == expected
    assert event["rule_ids"] == (["r1"] if counted else [])


def test_aws_waf_optional_and_odd_values() -> None:
    odd = aws(responseCodeSent=None, labels=None)
    odd["httpRequest"].update(args="", country="-", requestId="null", headers=[])
    (event,), _ = rows("aws_waf", jl(odd))
    assert event["url_query"] is None and event["request_uri"] == "/search"
    assert event["source_country"] is None and event["request_id"] is None
    assert event["host"] is None and event["status_code"] is None and event["labels"] == []


def test_aws_waf_attack_class_becomes_the_crs_tag_the_event_rules_look_for() -> None:
    """AWS managed rules (names, labels) and SQLi/XSS match statements (conditionType) give
    the CRS tags (attack-sqli...) that waf-sqli-event and friends match in rule_tags."""
    label = "awswaf:managed:aws:sql-database:SQLi_QueryArguments"
    managed = aws(
        action="BLOCK",
        ruleGroupList=[
            {
                "ruleGroupId": "AWS#AWSManagedRulesCommonRuleSet",
                "terminatingRule": {"ruleId": "CrossSiteScripting_BODY", "action": "BLOCK"},
                "nonTerminatingMatchingRules": [{"ruleId": "GenericLFI_URIPATH"}],
            },
            {
                "ruleGroupId": "AWS#AWSManagedRulesKnownBadInputsRuleSet",
                "nonTerminatingMatchingRules": [{"ruleId": "Log4JRCE_HEADER"}],
            },
        ],
        labels=[{"name": label}],
    )
    statement = aws(
        action="BLOCK",
        terminatingRuleId="my-sqli-rule",
        terminatingRuleMatchDetails=[{"conditionType": "SQL_INJECTION", "location": "HEADER"}],
        nonTerminatingMatchingRules=[
            {"ruleId": "xss-count", "ruleMatchDetails": [{"conditionType": "XSS"}]}
        ],
    )
    # names that only contain the words are not AWS managed rules: no tag
    lookalike = aws(action="BLOCK", terminatingRuleId="RuleB-SQLi", labels=[{"name": "x:XSS"}])
    events, dead = rows("aws_waf", jl(managed, statement, lookalike))
    assert dead == []
    assert [e["rule_tags"] for e in events] == [
        [label, "attack-sqli", "attack-xss", "attack-lfi", "attack-rce"],
        ["attack-sqli", "attack-xss"],
        ["x:XSS"],
    ]
    # the labels column stays AWS's own
    assert [e["labels"] for e in events] == [[label], [], ["x:XSS"]]


def test_aws_waf_bad_records_are_dead_letters_with_reasons() -> None:
    no_ip = aws()
    no_ip["httpRequest"]["clientIp"] = "X.X.X.X"
    no_time = aws()
    del no_time["timestamp"]
    events, dead = rows("aws_waf", jl(aws(), no_ip, no_time) + b"{not json\n")
    assert len(events) == 1
    assert [(d["source_offset"], d["reason"]) for d in dead] == [
        (1, "invalid_ip"),
        (2, "missing_field"),
        (3, "invalid_json"),
    ]
    assert "X.X.X.X" in dead[0]["detail"] and "timestamp" in dead[1]["detail"]


# -- ModSecurity v3 / Coraza --------------------------------------------------------------


def modsec(messages: list[dict[str, Any]], code: int = 403, engine: str = "Enabled") -> bytes:
    tx = {
        "client_ip": "203.0.113.9",
        "time_stamp": "Mon Mar  9 12:00:00 2026",
        "server_id": "x",
        "unique_id": "177306480012.1",
        "request": {
            "method": "GET",
            "http_version": 1.1,
            "uri": "/index.php?id=1 union select",
            "headers": {"host": "app.example", "User-Agent": "nikto", "Cookie": "a"},
        },
        "response": {"http_code": code, "headers": {}},
        "producer": {"secrules_engine": engine},
        "messages": messages,
    }
    text = json.dumps({"transaction": tx})
    # a repeated Cookie header, as libmodsecurity writes it: a repeated JSON key
    return text.replace('"Cookie": "a"', '"Cookie": "a", "Cookie": "b"').encode() + b"\n"


def message(rule: str, msg: str, tags: list[str]) -> dict[str, Any]:
    return {"message": msg, "details": {"ruleId": rule, "severity": "2", "tags": tags}}


CRS = [
    message("942100", "SQL Injection Attack Detected via libinjection", ["attack-sqli", "crs"]),
    message("942190", "Detects MSSQL code execution", ["attack-sqli", "crs"]),
    message("949110", "Inbound Anomaly Score Exceeded (Total Score: 10)", ["anomaly"]),
]


def test_modsecurity_transaction_carries_every_matched_rule() -> None:
    (event,), dead = rows("modsecurity", modsec(CRS))
    assert dead == []
    assert event["event_time"] == datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
    assert (event["client_ip"], event["host"], event["user_agent"]) == (
        "203.0.113.9",
        "app.example",
        "nikto",
    )
    assert (event["url_path"], event["url_query"]) == ("/index.php", "id=1 union select")
    assert event["rule_ids"] == ["942100", "942190", "949110"]
    assert event["rule_names"][0] == "SQL Injection Attack Detected via libinjection"
    assert event["rule_id"] == "942100" and event["rule_tags"] == ["attack-sqli", "crs", "anomaly"]
    assert event["anomaly_score"] == 10 and event["action"] == "blocked"
    assert event["request_id"] == "177306480012.1" and event["status_code"] == 403
    assert event["observer_vendor"] == "OWASP/ModSecurity"


@pytest.mark.parametrize(
    ("messages", "code", "engine", "expected"),
    [
        (CRS, 403, "Enabled", "blocked"),
        (CRS, 200, "DetectionOnly", "detected"),
        (CRS[:1], 200, "Enabled", "detected"),
        (CRS[:1], 404, "Enabled", "detected"),  # the origin's 404, not a deny
        ([], 403, "Enabled", "allowed"),  # a 403 with no rule: not the WAF's
    ],
)
def test_modsecurity_interception(
    messages: list[dict[str, Any]], code: int, engine: str, expected: str
) -> None:
    (event,), _ = rows("modsecurity", modsec(messages, code, engine))
    assert event["action"] == expected


def test_coraza_native_json() -> None:
    record = {
        "transaction": {
            "timestamp": "2026/03/09 12:00:00",
            "unix_timestamp": 1773057600123456789,
            "id": "Xyz",
            "client_ip": "203.0.113.10",
            "is_interrupted": False,
            "request": {
                "method": "POST",
                "uri": "/login",
                "headers": {"host": ["app.example"], "user-agent": ["curl/8"]},
            },
            "response": {"status": 200},
            "producer": {"rule_engine": "On"},
        },
        "messages": [{"message": "XSS", "data": {"id": 941100, "msg": "XSS", "tags": ["xss"]}}],
    }
    (event,), dead = rows("modsecurity", jl(record))
    assert dead == []
    assert event["event_time"] == datetime(2026, 3, 9, 12, 0, 0, 123456, tzinfo=UTC)
    assert (event["host"], event["user_agent"], event["status_code"]) == (
        "app.example",
        "curl/8",
        200,
    )
    assert event["rule_ids"] == ["941100"] and event["action"] == "detected"
    assert event["observer_vendor"] == "Coraza" and event["request_id"] == "Xyz"


def test_modsecurity_without_transaction_is_missing_field() -> None:
    _, dead = rows("modsecurity", b'{"other": 1}\n')
    assert [d["reason"] for d in dead] == ["missing_field"]
    assert "transaction" in dead[0]["detail"]


# -- Cloudflare ---------------------------------------------------------------------------


def cf(**over: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "Action": "block",
        "ClientASN": 64500,
        "ClientASNDescription": "EXAMPLE-NET",
        "ClientCountry": "nl",
        "ClientIP": "2001:db8:0:0::5",
        "ClientRequestHost": "www.example",
        "ClientRequestMethod": "POST",
        "ClientRequestPath": "/wp-login.php",
        "ClientRequestQuery": "?a=b",
        "ClientRequestUserAgent": "python-requests",
        "Datetime": "2026-03-10T12:00:00Z",
        "EdgeResponseStatus": 403,
        "Kind": "firewall",
        "MatchIndex": 0,
        "RayID": "713d477539b55c29",
        "RuleID": "7dc666e0",
        "Source": "firewallcustom",
    }
    record.update(over)
    return record


@pytest.mark.parametrize(
    "stamp",
    [
        "2026-03-10T12:00:00Z",
        "2026-03-10 12:00:00",  # Panther's form: UTC without a zone
        1773144000,  # unix
        1773144000000000000,  # unixnano (the API default)
    ],
)
def test_cloudflare_datetime_encodings(stamp: object) -> None:
    (event,), dead = rows("cloudflare", jl(cf(Datetime=stamp)))
    assert dead == []
    assert event["event_time"] == datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def test_cloudflare_record_fields_and_mixed_encodings_in_one_file() -> None:
    data = jl(cf(), cf(Datetime=1773144001, Action="managedchallengeinteractivesolved"))
    data += jl({"_source": "x", "_test": "t", "log": cf(Action="log", ClientRequestQuery="")})
    data += jl({"_source": "x", "log": {"p_log_type": "AWS.CloudTrail", "p_event_time": "x"}})
    events, dead = rows("cloudflare", data)
    first = events[0]
    assert first["client_ip"] == "2001:db8::5"
    assert (first["host"], first["request_method"], first["url_path"]) == (
        "www.example",
        "POST",
        "/wp-login.php",
    )
    assert (first["url_query"], first["request_uri"]) == ("a=b", "/wp-login.php?a=b")
    assert (first["status_code"], first["action"], first["rule_ids"]) == (
        403,
        "blocked",
        ["7dc666e0"],
    )
    assert (first["source_country"], first["source_as_number"], first["source_as_org"]) == (
        "NL",
        64500,
        "EXAMPLE-NET",
    )
    assert first["request_id"] == "713d477539b55c29" and first["rule_tags"] == ["firewallcustom"]
    assert [e["action"] for e in events] == ["blocked", "allowed", "detected"]
    assert events[2]["url_query"] is None and events[2]["request_uri"] == "/wp-login.php"
    assert [(d["source_offset"], d["reason"]) for d in dead] == [(3, "unknown_format")]
    assert "AWS.CloudTrail" in dead[0]["detail"]


def test_same_ray_different_rules_are_different_events() -> None:
    events, _ = rows("cloudflare", jl(cf(MatchIndex=0), cf(MatchIndex=1, RuleID="other")))
    assert len({e["event_id"] for e in events}) == 2


# -- the seed format ----------------------------------------------------------------------

SEED = (
    b'{"timestamp":"2026-03-10T12:00:00Z","client_ip":"198.51.100.7","host":"shop.example",'
    b'"request_method":"GET","request_uri":"/search?q=1%27%20OR%201=1","status_code":403,'
    b'"user_agent":"sqlmap/1.7","rule_id":942100,"rule_msg":"SQL Injection Attack Detected '
    b'via libinjection","rule_tags":["attack-sqli","OWASP_CRS"],"action":"block"}\n'
    b'{"timestamp":"2026-03-10T12:00:01.5+01:00","client_ip":"2001:db8::1","host":"api.example",'
    b'"request_method":"POST","request_uri":"/login","status_code":200,"user_agent":"curl/8",'
    b'"rule_id":0,"rule_msg":"","rule_tags":[]}\n'
)


def test_seed_event_ids_are_those_of_the_code_before_the_canonical_event() -> None:
    """Ids computed by the seed parser of commit 4f7e44a (before issue 11): the new
    columns derive from the fields already hashed, so existing lakes dedupe as before."""
    result = get_parser("waf_json")(split_lines(SEED), "seed.jsonl", INGESTED)
    assert result.events["event_id"].to_pylist() == [
        "b091888f76048bdbe76be324d8a26ac3",
        "603d2eca855c5523b97c1f10551bf13a",
    ]


def test_seed_gains_the_canonical_columns() -> None:
    events, _ = rows("waf_json", SEED)
    assert (events[0]["url_path"], events[0]["url_query"]) == ("/search", "q=1%27%20OR%201=1")
    assert events[0]["rule_ids"] == ["942100"]
    assert events[0]["rule_names"] == ["SQL Injection Attack Detected via libinjection"]
    assert (events[0]["observer_vendor"], events[0]["observer_product"]) == (
        "seed",
        "seed WAF JSON",
    )
    assert events[1]["rule_ids"] == [] and events[1]["url_query"] is None


# -- layouts, detection ------------------------------------------------------------------


def records_of(data: bytes) -> list[bytes]:
    return [line for block in iter_record_blocks([data]) for line in block.lines]


def test_record_layouts_give_the_same_records() -> None:
    recs = [aws(), aws(action="BLOCK")]
    texts = [json.dumps(r).encode() for r in recs]
    ndjson = b"\n".join(texts) + b"\n"
    layouts = {
        "ndjson": ndjson,
        "gzip (by magic bytes)": gzip.compress(ndjson),
        "two gzip members": gzip.compress(texts[0] + b"\n") + gzip.compress(texts[1]),
        "array": b"[" + b",\n".join(texts) + b"]",
        "Records object": b'{"Records": [' + b", ".join(texts) + b"]}",
        "concatenated (Firehose)": b"".join(texts),
        "CloudWatch export": b"".join(b"2026-03-10T12:00:00.000Z " + t + b"\n" for t in texts),
        "CloudWatch subscription": json.dumps(
            {
                "messageType": "DATA_MESSAGE",
                "logEvents": [{"id": "1", "message": t.decode()} for t in texts],
            }
        ).encode(),
    }
    for name, data in layouts.items():
        assert records_of(data) == texts, name
    pretty = json.dumps(recs, indent=2).encode()
    assert [json.loads(r) for r in records_of(pretty)] == recs


def test_detection_and_configured_formats() -> None:
    assert detect([b"garbage", jl(aws()).strip()]) == "aws_waf"
    assert detect([modsec(CRS).strip()]) == "modsecurity"
    assert detect([jl({"_source": "x", "log": cf()}).strip()]) == "cloudflare"
    assert detect([SEED.split(b"\n")[0]]) == "waf_json"
    assert detect([b'{"x": 1}']) is None
    assert format_name("seed") == "waf_json" and format_name(" AUTO ") == "auto"
    with pytest.raises(ConfigurationError, match="known formats"):
        format_name("nginx")


def test_auto_parses_each_file_in_its_format_and_dead_letters_unknown_files() -> None:
    for data, fmt in [
        (gzip.compress(jl(aws(), aws())), "aws_waf"),
        (modsec(CRS), "modsecurity"),
        (jl(cf()), "cloudflare"),
        (SEED, "waf_json"),
    ]:
        result = parse_bytes(data, "obj", INGESTED)
        assert result.dead_letters.num_rows == 0
        assert set(result.events["source_format"].to_pylist()) == {fmt}
    unknown = parse_bytes(b'{"x": 1}\n{"y": 2}\n', "obj", INGESTED)
    assert unknown.events.num_rows == 0
    assert unknown.dead_letter_counts() == {"unknown_format": 2}
    detail = unknown.dead_letters["detail"][0].as_py()
    for fmt in ("aws_waf", "modsecurity", "cloudflare", "waf_json"):
        assert fmt in detail


def test_a_configured_format_is_not_second_guessed() -> None:
    parser = RecordParser("cloudflare", "obj", INGESTED)
    result = parser.parse(split_lines(jl(aws())))
    assert result.events.num_rows == 0 and result.dead_letters.num_rows == 1


# -- ECS -----------------------------------------------------------------------------------


def test_ecs_documents() -> None:
    result = get_parser("aws_waf")(split_lines(jl(aws(action="BLOCK"))), "f", INGESTED)
    (doc,) = to_ecs_documents(result.events)
    assert doc["source"]["ip"] == "198.51.100.7"
    assert doc["url"] == {
        "domain": "shop.example",
        "original": "/search?q=1%27",
        "path": "/search",
        "query": "q=1%27",
    }
    assert doc["http"]["request"]["method"] == "GET"
    assert doc["event"]["action"] == "blocked"
    assert doc["observer"] == {"vendor": "AWS", "product": "AWS WAF"}
    assert doc["@timestamp"] == "2026-03-10T12:00:00.123000Z"
    assert doc["source"]["geo"]["country_iso_code"] == "DE"
    assert set(ECS_FIELDS) == set(LAKE_EVENT_SCHEMA.names)


def test_every_parser_returns_the_lake_schema_for_empty_input() -> None:
    for fmt in ("waf_json", "aws_waf", "modsecurity", "cloudflare"):
        result = get_parser(fmt)(split_lines(b""), "f", INGESTED)
        assert result.events.schema == LAKE_EVENT_SCHEMA and result.events.num_rows == 0
        assert isinstance(result.dead_letters, pa.Table)


def test_a_record_with_a_data_list_is_not_a_container() -> None:
    lines = [b'{"id": 1, "kind": "x", "user": "a", "data": [{"k": 1}]}', b'{"id": 2, "data": []}']
    assert records_of(b"\n".join(lines)) == lines
    assert records_of(b'{"data": [{"k": 1}, {"k": 2}]}') == [b'{"k": 1}', b'{"k": 2}']
    assert records_of(b'{"id": 2, "data": []}\n{"id": 3}') == [
        b'{"id": 2, "data": []}',
        b'{"id": 3}',
    ]
    assert records_of(b'{"Records": []}') == []


def test_modsecurity_repeated_host_header_keeps_the_first_and_the_raw_text() -> None:
    line = modsec(CRS).replace(
        b'"host": "app.example"', b'"host": "a.example", "host": "b.example"'
    )
    (event,), dead = rows("modsecurity", line)
    assert dead == [] and event["host"] == "a.example"
    assert event["raw"].encode() == line.strip()  # as written, both keys
