"""Unit tests for the seed WAF JSON parser (soc_platform.parsing.waf_json).

Pure: no server, no network, no Dagster. The real-world conformance tests read the public
samples under ../shared/realdata in place (skipped when the folder is absent).
"""

import gzip
import hashlib
import ipaddress
import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import soc_platform
from soc_platform.models import DEAD_LETTER_SCHEMA, LAKE_EVENT_SCHEMA, DeadLetterReason
from soc_platform.parsing import get_parser, split_lines
from soc_platform.parsing.base import ParseResult
from soc_platform.parsing.waf_json import FORMAT, REQUIRED, derive_action, parse

INGESTED = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SOURCE = "/landing/waf-a.jsonl"
REASONS = {str(r) for r in DeadLetterReason}

PROPS = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

BASE: dict[str, Any] = {
    "timestamp": "2024-05-01T10:00:00Z",
    "client_ip": "203.0.113.7",
    "host": "Shop.Example.com",
    "request_method": "get",
    "request_uri": "/products?id=1",
    "status_code": 200,
    "user_agent": "Mozilla/5.0",
    "rule_id": 0,
    "rule_msg": "",
    "rule_tags": [],
}
DROP = object()  # marker: remove the key


def record(**overrides: Any) -> dict[str, Any]:
    out = dict(BASE)
    for key, value in overrides.items():
        if value is DROP:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def line(**overrides: Any) -> bytes:
    return json.dumps(record(**overrides), separators=(",", ":")).encode()


def run(data: bytes, source: str = SOURCE, first_offset: int = 0) -> ParseResult:
    return parse(split_lines(data, first_offset), source, INGESTED)


def outcomes(result: ParseResult) -> dict[int, str]:
    """source_offset -> 'event' or the dead-letter reason."""
    out: dict[int, str] = {}
    for off in result.events["source_offset"].to_pylist():
        assert off not in out, f"offset {off} produced two outcomes"
        out[off] = "event"
    for off, reason in zip(
        result.dead_letters["source_offset"].to_pylist(),
        result.dead_letters["reason"].to_pylist(),
        strict=True,
    ):
        assert off not in out, f"offset {off} produced two outcomes"
        out[off] = reason
    return out


def only_event(result: ParseResult) -> dict[str, Any]:
    assert result.dead_letters.num_rows == 0, result.dead_letters.to_pylist()
    assert result.events.num_rows == 1
    row: dict[str, Any] = result.events.to_pylist()[0]
    return row


def only_dead_letter(result: ParseResult) -> dict[str, Any]:
    assert result.events.num_rows == 0, result.events.to_pylist()
    assert result.dead_letters.num_rows == 1
    row: dict[str, Any] = result.dead_letters.to_pylist()[0]
    return row


# --------------------------------------------------------------------------------------
# A valid line becomes one canonical event
# --------------------------------------------------------------------------------------


def test_valid_line_becomes_canonical_event() -> None:
    raw = line(
        rule_id=942100,
        rule_msg="SQL Injection Attack Detected via libinjection",
        rule_tags=["attack-sqli", "OWASP_CRS"],
        status_code=403,
    )
    result = run(raw)
    assert result.lines_read == 1
    assert result.events.schema == LAKE_EVENT_SCHEMA
    ev = only_event(result)
    assert ev["event_id"] == reference_id(json.loads(raw))
    assert ev["event_time"] == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert ev["client_ip"] == "203.0.113.7"
    assert ev["host"] == "Shop.Example.com"  # as sent (Sigma's |cased and |re see it)
    assert ev["request_method"] == "get"  # as sent
    assert ev["request_uri"] == "/products?id=1"  # verbatim
    assert ev["status_code"] == 403
    assert ev["user_agent"] == "Mozilla/5.0"
    assert ev["rule_id"] == "942100"
    assert ev["rule_msg"] == "SQL Injection Attack Detected via libinjection"
    assert ev["rule_tags"] == ["attack-sqli", "OWASP_CRS"]
    assert ev["action"] == "blocked"
    assert ev["source_format"] == FORMAT == "waf_json"
    assert ev["source_file"] == SOURCE
    assert ev["source_offset"] == 0
    assert ev["ingested_at"] == INGESTED
    assert ev["raw"] == raw.decode()


def test_registered_as_default_parser() -> None:
    assert get_parser("waf_json") is parse


def test_empty_input_gives_empty_tables_with_schemas() -> None:
    for data in (b"", b"\n\n  \n\t\r\n"):
        result = run(data)
        assert result.lines_read == 0
        assert result.events.num_rows == 0
        assert result.dead_letters.num_rows == 0
        assert result.events.schema == LAKE_EVENT_SCHEMA
        assert result.dead_letters.schema == DEAD_LETTER_SCHEMA
        assert result.dead_letter_counts() == {}


def test_optional_fields_absent_or_null_are_filled() -> None:
    absent = only_event(run(line(user_agent=DROP, rule_id=DROP, rule_msg=DROP, rule_tags=DROP)))
    null = only_event(run(line(user_agent=None, rule_id=None, rule_msg=None, rule_tags=None)))
    for ev in (absent, null):
        assert ev["user_agent"] is None
        assert ev["rule_id"] is None
        assert ev["rule_msg"] == ""
        assert ev["rule_tags"] == []
        assert ev["action"] == "allowed"


def test_unknown_fields_are_ignored() -> None:
    rows = [
        line(extra={"nested": [1, "a", None]}),
        line(extra="text"),
        line(extra=[1, 2, 3], terminatingRuleId="x"),
    ]
    result = run(b"\n".join(rows))
    assert result.dead_letters.num_rows == 0
    assert result.events["source_offset"].to_pylist() == [0, 1, 2]
    assert result.events["raw"].to_pylist() == [r.decode() for r in rows]


def test_null_elements_in_rule_tags_are_kept() -> None:
    ev = only_event(run(line(rule_tags=[None, "attack-sqli"])))
    assert ev["rule_tags"] == [None, "attack-sqli"]


def test_non_ascii_text_is_kept_verbatim() -> None:
    raw_utf8 = json.dumps(record(request_uri="/süß?q=☃𝄞"), ensure_ascii=False).encode()
    raw_escaped = json.dumps(record(request_uri="/süß?q=☃𝄞")).encode()
    result = run(raw_utf8 + b"\n" + raw_escaped)
    assert result.dead_letters.num_rows == 0
    assert result.events["request_uri"].to_pylist() == ["/süß?q=☃𝄞"] * 2
    assert result.events["raw"].to_pylist() == [raw_utf8.decode(), raw_escaped.decode()]
    # same values, other bytes: the same event
    ids = result.events["event_id"].to_pylist()
    assert ids[0] == ids[1]


# --------------------------------------------------------------------------------------
# Verdict: no rule -> allowed, rule + error -> blocked, rule + success -> detected
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "rule_id", "action"),
    [
        ({"rule_id": 0, "rule_msg": "", "status_code": 200}, None, "allowed"),
        ({"rule_id": DROP, "rule_msg": DROP, "status_code": 200}, None, "allowed"),
        ({"rule_id": 0, "rule_msg": "", "status_code": 404}, None, "allowed"),
        ({"rule_id": 0, "rule_msg": "", "status_code": 503}, None, "allowed"),
        ({"rule_id": 942100, "status_code": 403}, "942100", "blocked"),
        ({"rule_id": 942100, "status_code": 400}, "942100", "blocked"),
        ({"rule_id": 942100, "status_code": 599}, "942100", "blocked"),
        ({"rule_id": 942100, "status_code": 399}, "942100", "detected"),
        ({"rule_id": 920350, "status_code": 200}, "920350", "detected"),
        ({"rule_id": 920350, "status_code": 302}, "920350", "detected"),
    ],
)
def test_action_inferred_from_rule_and_status(
    overrides: dict[str, Any], rule_id: str | None, action: str
) -> None:
    ev = only_event(run(line(**overrides)))
    assert ev["rule_id"] == rule_id
    assert ev["action"] == action


@pytest.mark.parametrize(
    ("reported", "rule_id", "status", "expected"),
    [
        ("BLOCK", 0, 200, "blocked"),  # the WAF's own word wins over "no rule, 200"
        ("block", 942100, 200, "blocked"),
        ("allow", 942100, 403, "allowed"),  # ... and over "rule + error"
        ("ALLOW", 0, 200, "allowed"),
        ("count", 942100, 403, "detected"),
        ("COUNT", 0, 200, "detected"),
        ("  Deny\t", 0, 200, "blocked"),
        ("drop", 0, 200, "blocked"),
        ("log", 0, 500, "detected"),
        ("pass", 0, 200, "detected"),
        ("detected", 0, 200, "detected"),
        ("allowed", 942100, 403, "allowed"),
        # unknown words and empty strings fall back to inference
        ("CAPTCHA", 942100, 403, "blocked"),
        ("challenge", 0, 200, "allowed"),
        ("", 942100, 200, "detected"),
        (None, 942100, 403, "blocked"),
    ],
)
def test_explicit_action_field_wins(
    reported: str | None, rule_id: int, status: int, expected: str
) -> None:
    ev = only_event(run(line(action=reported, rule_id=rule_id, status_code=status)))
    assert ev["action"] == expected


def test_derive_action_vectorised_with_nulls() -> None:
    reported = pa.array(["Blocked", None, "nonsense", None, "allow", None], pa.string())
    matched = pa.array([False, True, True, True, True, False])
    status = pa.array([200, 403, 200, 302, 403, 500], pa.int32())
    out = derive_action(reported, matched, status)
    assert out.to_pylist() == ["blocked", "blocked", "detected", "detected", "allowed", "allowed"]


# --------------------------------------------------------------------------------------
# Timestamps and IPs
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T10:00:00Z", datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
        ("2024-05-01T12:00:00+02:00", datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
        ("2024-05-01T06:30:00-03:30", datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
        ("2024-05-01T00:30:00+05:30", datetime(2024, 4, 30, 19, 0, tzinfo=UTC)),
        ("2024-05-01 10:00:00.250Z", datetime(2024, 5, 1, 10, 0, 0, 250000, tzinfo=UTC)),
        ("2024-05-01t10:00:00.123456z", datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2024-05-01T10:00:00.123456789Z", datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2024-02-29T23:59:59+00:00", datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC)),
    ],
)
def test_timestamps_are_converted_to_utc(text: str, expected: datetime) -> None:
    ev = only_event(run(line(timestamp=text)))
    assert ev["event_time"] == expected
    assert ev["event_time"].utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("2001:db8::1", "2001:db8::1"),
        ("::1", "::1"),
        ("fe80:0000:0000:0000:0202:b3ff:fe1e:8329", "fe80::202:b3ff:fe1e:8329"),
        ("10.0.0.1", "10.0.0.1"),
        (" 192.168.1.20 ", "192.168.1.20"),
    ],
)
def test_ip_addresses_accepted_and_canonicalised(text: str, canonical: str) -> None:
    assert only_event(run(line(client_ip=text)))["client_ip"] == canonical


# --------------------------------------------------------------------------------------
# Dead letters: one per rejected line, with the right reason
# --------------------------------------------------------------------------------------

HOSTILE_EXAMPLES: list[tuple[bytes, str]] = [
    (b"{not json", "invalid_json"),
    (b'{"timestamp": "2024-05-01T10:00:00Z",', "invalid_json"),
    (b"{'timestamp': 1}", "invalid_json"),
    (line() + line(), "invalid_json"),  # two objects on one line
    (line() + b" " + line(), "invalid_json"),
    (line() + b"{}", "invalid_json"),
    (b"\xff\xfe" + line(), "invalid_json"),  # invalid UTF-8 outside any string
    (b"[1, 2]", "not_an_object"),
    (b"[" + line() + b"]", "not_an_object"),
    (b'"just a string"', "not_an_object"),
    (b"42", "not_an_object"),
    (b"true", "not_an_object"),
    (line(status_code="200"), "wrong_type"),
    (line(status_code=200.5), "wrong_type"),
    (line(status_code=True), "wrong_type"),
    (line(rule_tags="attack-sqli"), "wrong_type"),
    (line(rule_tags=["attack-sqli", 942]), "wrong_type"),
    (line(rule_tags=[1, 2]), "wrong_type"),
    (line(rule_id="942100"), "wrong_type"),
    (line(host=5), "wrong_type"),
    (line(client_ip=["1.2.3.4"]), "wrong_type"),
    (line(timestamp=1714557600000), "wrong_type"),
    (line(request_uri={"path": "/"}), "wrong_type"),
    (line(action=1), "wrong_type"),
    (b"{}", "missing_field"),
    (line(timestamp=DROP), "missing_field"),
    (line(client_ip=DROP), "missing_field"),
    (line(host=None), "missing_field"),
    (line(request_method=DROP), "missing_field"),
    (line(request_uri=None), "missing_field"),
    (line(status_code=DROP), "missing_field"),
    (line(client_ip="999.1.1.1"), "invalid_ip"),
    (line(client_ip="not-an-ip"), "invalid_ip"),
    (line(client_ip=""), "invalid_ip"),
    (line(client_ip="10.0.0.0/8"), "invalid_ip"),
    (line(timestamp="2024-05-01T10:00:00"), "invalid_timestamp"),  # no zone
    (line(timestamp="2024-13-01T10:00:00Z"), "invalid_timestamp"),  # month 13
    (line(timestamp="2023-02-29T10:00:00Z"), "invalid_timestamp"),
    (line(timestamp="2024-05-01T25:00:00Z"), "invalid_timestamp"),
    (line(timestamp="2024-05-01"), "invalid_timestamp"),
    (line(timestamp="yesterday"), "invalid_timestamp"),
    (line(timestamp="1714557600"), "invalid_timestamp"),
    (line(status_code=99), "invalid_value"),
    (line(status_code=600), "invalid_value"),
    (line(status_code=0), "invalid_value"),
]


@pytest.mark.parametrize(("raw", "reason"), HOSTILE_EXAMPLES)
@pytest.mark.parametrize("position", ["alone", "first", "middle", "last"])
def test_rejected_line_gets_reason_and_offset(raw: bytes, reason: str, position: str) -> None:
    good = line()
    lines = {
        "alone": [raw],
        "first": [raw, good, good],
        "middle": [good, raw, good],
        "last": [good, good, raw],
    }[position]
    bad_at = lines.index(raw)
    result = run(b"\n".join(lines), source="s3://bucket/x.jsonl")
    assert outcomes(result) == {i: (reason if i == bad_at else "event") for i in range(len(lines))}
    dead = result.dead_letters.to_pylist()[0]
    assert dead["raw"] == raw.decode("utf-8", errors="replace")
    assert dead["detail"]
    assert dead["source_format"] == "waf_json"
    assert dead["source_file"] == "s3://bucket/x.jsonl"
    assert dead["ingested_at"] == INGESTED
    assert result.dead_letter_counts() == {reason: 1}


def test_wrong_type_detail_names_the_field() -> None:
    detail = only_dead_letter(run(line(status_code="200")))["detail"]
    assert "status_code" in detail
    detail = only_dead_letter(run(line(rule_tags=["a", 3])))["detail"]
    assert "rule_tags" in detail


@pytest.mark.parametrize("name", REQUIRED)
def test_missing_field_detail_names_the_field(name: str) -> None:
    dead = only_dead_letter(run(line(**{name: DROP})))
    assert dead["reason"] == "missing_field"
    assert repr(name) in dead["detail"]


def test_status_code_range_bounds() -> None:
    result = run(b"\n".join(line(status_code=s) for s in (99, 100, 599, 600)))
    assert outcomes(result) == {0: "invalid_value", 1: "event", 2: "event", 3: "invalid_value"}


def test_blank_lines_count_for_numbering_only() -> None:
    data = b"\n" + line() + b"\r\n   \n\t\n" + b"{bad" + b"\n\n" + line(host="b") + b"\n"
    result = run(data)
    assert result.lines_read == 3
    assert outcomes(result) == {1: "event", 4: "invalid_json", 6: "event"}


def test_first_offset_shifts_numbering() -> None:
    result = run(line() + b"\n{bad\n" + line(host="x"), first_offset=1000)
    assert outcomes(result) == {1000: "event", 1001: "invalid_json", 1002: "event"}


def test_dead_letters_sorted_by_offset_and_counted() -> None:
    lines = [
        line(status_code=0),
        b"[]",
        line(),
        b"{",
        line(client_ip="x"),
        line(timestamp="2024-05-01T10:00:00"),
        line(host=DROP),
        line(status_code="x"),
        b"{",
    ]
    result = run(b"\n".join(lines))
    assert result.dead_letters["source_offset"].to_pylist() == [0, 1, 3, 4, 5, 6, 7, 8]
    assert result.dead_letter_counts() == {
        "invalid_value": 1,
        "not_an_object": 1,
        "invalid_json": 2,
        "invalid_ip": 1,
        "invalid_timestamp": 1,
        "missing_field": 1,
        "wrong_type": 1,
    }
    assert set(result.dead_letter_counts()) <= REASONS


def test_dead_letter_id_depends_on_file_offset_and_content() -> None:
    bad = b"{broken"
    a = run(bad, source="a.jsonl").dead_letters["dead_letter_id"][0].as_py()
    a_again = run(bad, source="a.jsonl").dead_letters["dead_letter_id"][0].as_py()
    b = run(bad, source="b.jsonl").dead_letters["dead_letter_id"][0].as_py()
    shifted = run(b"\n" + bad, source="a.jsonl").dead_letters["dead_letter_id"][0].as_py()
    other = run(b"{broken!", source="a.jsonl").dead_letters["dead_letter_id"][0].as_py()
    assert a == a_again
    assert len({a, b, shifted, other}) == 4


def test_dead_letter_counts_from_a_table() -> None:
    dead = pa.Table.from_pydict(
        {
            "dead_letter_id": ["1", "2", "3"],
            "raw": ["a", "b", "c"],
            "source_format": ["waf_json"] * 3,
            "source_file": ["f"] * 3,
            "source_offset": [0, 1, 2],
            "reason": ["invalid_json", "wrong_type", "invalid_json"],
            "detail": ["x"] * 3,
            "ingested_at": pa.array([INGESTED] * 3, pa.timestamp("us", tz="UTC")),
        },
        schema=DEAD_LETTER_SCHEMA,
    )
    result = ParseResult(events=pa.table({}), dead_letters=dead, lines_read=3)
    assert result.dead_letter_counts() == {"invalid_json": 2, "wrong_type": 1}


# --------------------------------------------------------------------------------------
# Event ids: the event's content, not its bytes
# --------------------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _identity_field(value: object) -> str:
    """The README's encoding of one identity field, written out independently."""

    def esc(text: str) -> str:
        return text.replace("\x01", "\x01\x02").replace("\x00", "\x01\x03")

    if value is None:
        return "\x01\x01"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return esc("".join(("\x01\x01" if v is None else esc(v)) + "\x00" for v in value))
    assert isinstance(value, str)
    return esc(value)


def reference_id(rec: dict[str, Any]) -> str:
    """event_id of a seed-format record, computed without the parser."""
    stamp = datetime.fromisoformat(
        rec["timestamp"].upper().replace(" ", "T").replace("Z", "+00:00")
    )
    rule_id = rec.get("rule_id") or None
    fields = [
        "waf_json",
        (stamp - _EPOCH) // timedelta(microseconds=1),
        str(ipaddress.ip_address(rec["client_ip"].strip())),
        rec["host"],
        rec["request_method"],
        rec["request_uri"],
        rec["status_code"],
        rec.get("user_agent"),
        rule_id,
        rec.get("rule_msg") or "",
        rec.get("rule_tags") or [],
        rec.get("action"),
    ]
    encoded = "\x00".join(_identity_field(f) for f in fields)
    return hashlib.blake2b(encoded.encode(), digest_size=16).hexdigest()


def test_event_id_ignores_file_offset_and_surrounding_whitespace() -> None:
    raw = line(rule_id=942100, status_code=403)
    first = run(raw, source="a.jsonl").events
    second = run(b"\n\n" + line(host="x") + b"\n  " + raw + b" \r\n", source="b.jsonl").events
    repeated = run(raw + b"\n" + raw, source="c.jsonl").events
    expected = reference_id(json.loads(raw))
    assert first["event_id"].to_pylist() == [expected]
    assert second["event_id"].to_pylist()[1] == expected
    assert second["source_offset"].to_pylist() == [2, 3]
    assert repeated["event_id"].to_pylist() == [expected, expected]


def test_event_id_differs_for_different_content() -> None:
    variants = [
        line(),
        line(host="www.example.com"),
        line(timestamp="2024-05-01T10:00:01Z"),
        json.dumps(record()).encode(),  # same values, different spacing: the same event
    ]
    ids = run(b"\n".join(variants)).events["event_id"].to_pylist()
    assert len(ids) == 4
    assert len(set(ids[:3])) == 3
    assert ids[3] == ids[0]


# --------------------------------------------------------------------------------------
# Properties over hostile mixes (hypothesis)
# --------------------------------------------------------------------------------------

ACTION_WORDS = {
    "block": "blocked", "blocked": "blocked", "deny": "blocked", "denied": "blocked",
    "drop": "blocked", "detect": "detected", "detected": "detected", "log": "detected",
    "count": "detected", "pass": "detected", "allow": "allowed", "allowed": "allowed",
}  # fmt: skip

TEXT = st.text(st.characters(codec="utf-8"), max_size=24)
ASCII_WORD = st.text(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.", max_size=16
)


@st.composite
def rfc3339(draw: st.DrawFn) -> tuple[str, datetime]:
    """An RFC 3339 timestamp in one of its spellings, and the UTC instant it denotes."""
    # up to a day after INGESTED: later event times are out_of_range
    naive = draw(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2024, 5, 1)))
    digits = draw(st.sampled_from([0, 3, 6, 9]))
    if digits == 0:
        naive = naive.replace(microsecond=0)
        frac = ""
    elif digits == 3:
        naive = naive.replace(microsecond=naive.microsecond // 1000 * 1000)
        frac = f".{naive.microsecond // 1000:03d}"
    else:
        frac = f".{naive.microsecond:06d}" + ("000" if digits == 9 else "")
    minutes = draw(st.integers(-(23 * 60 + 59), 23 * 60 + 59))
    if minutes == 0:
        zone = draw(st.sampled_from(["Z", "z", "+00:00", "-00:00"]))
    else:
        sign = "+" if minutes > 0 else "-"
        zone = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    sep = draw(st.sampled_from(["T", "t", " "]))
    text = f"{naive:%Y-%m-%d}{sep}{naive:%H:%M:%S}{frac}{zone}"
    instant = naive.replace(tzinfo=timezone(timedelta(minutes=minutes))).astimezone(UTC)
    return text, instant


@st.composite
def ip_text(draw: st.DrawFn) -> tuple[str, str]:
    ip = draw(st.ip_addresses())
    forms = [str(ip)]
    if ip.version == 6:
        forms += [ip.exploded, ip.exploded.upper(), str(ip).upper()]
    return draw(st.sampled_from(forms)), str(ipaddress.ip_address(str(ip)))


@st.composite
def valid_records(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """A seed-format record and the event fields it must produce."""
    ts, instant = draw(rfc3339())
    ip, canonical = draw(ip_text())
    host = draw(ASCII_WORD)
    method = draw(st.sampled_from(["get", "GET", "Post", "delete", "OPTIONS"]))
    status = draw(st.integers(100, 599))
    rec: dict[str, Any] = {
        "timestamp": ts,
        "client_ip": ip,
        "host": host,
        "request_method": method,
        "request_uri": draw(TEXT),
        "status_code": status,
    }
    if draw(st.booleans()):
        rec["user_agent"] = draw(st.none() | TEXT)
    rule = draw(st.sampled_from(["absent", "null", "zero", "some"]))
    if rule == "null":
        rec["rule_id"] = None
    elif rule == "zero":
        rec["rule_id"] = 0
    elif rule == "some":
        rec["rule_id"] = draw(st.integers(1, 2**62))
    if rule in ("zero", "absent", "null"):
        if draw(st.booleans()):
            rec["rule_msg"] = ""
    else:
        rec["rule_msg"] = draw(TEXT)
    if draw(st.booleans()):
        rec["rule_tags"] = draw(st.none() | st.lists(st.none() | TEXT, max_size=4))
    reported = draw(
        st.none()
        | st.sampled_from(sorted(ACTION_WORDS)).flatmap(
            lambda w: st.tuples(
                st.sampled_from(["", " ", "\t"]),
                st.sampled_from([w, w.upper(), w.capitalize()]),
                st.sampled_from(["", " ", "\t "]),
            ).map("".join)
        )
        | st.sampled_from(["", "challenge", "CAPTCHA", "blocked!", "rate_limit"])
    )
    if reported is not None or draw(st.booleans()):
        rec["action"] = reported
    if draw(st.booleans()):
        rec["x_extra"] = draw(
            st.recursive(
                st.none() | st.booleans() | st.integers() | TEXT,
                lambda inner: (
                    st.lists(inner, max_size=3) | st.dictionaries(ASCII_WORD, inner, max_size=3)
                ),
                max_leaves=6,
            )
        )
    word = (reported or "").strip(" \t").lower()
    matched = rec.get("rule_id") not in (None, 0)
    if word in ACTION_WORDS:
        action = ACTION_WORDS[word]
    elif matched:
        action = "blocked" if status >= 400 else "detected"
    else:
        action = "allowed"
    tags = rec.get("rule_tags")
    expected = {
        "event_time": instant,
        "client_ip": canonical,
        "host": host,
        "request_method": method,
        "request_uri": rec["request_uri"],
        "status_code": status,
        "user_agent": rec.get("user_agent"),
        "rule_id": str(rec["rule_id"]) if matched else None,
        "rule_msg": rec.get("rule_msg") or "",
        "rule_tags": [] if tags is None else tags,
        "action": action,
    }
    expected["event_id"] = reference_id(rec)
    return rec, expected


@st.composite
def encoded(draw: st.DrawFn, rec: dict[str, Any]) -> bytes:
    keys = draw(st.permutations(list(rec)))
    ordered = {k: rec[k] for k in keys}
    sep = draw(st.sampled_from([(",", ":"), (", ", ": ")]))
    text = json.dumps(ordered, ensure_ascii=draw(st.booleans()), separators=sep)
    return text.encode("utf-8")


BAD_TIMESTAMPS = [
    "2024-05-01T10:00:00", "2024-13-01T10:00:00Z", "2024-00-10T10:00:00Z",
    "2024-05-32T10:00:00Z", "2024-05-01T24:30:00Z", "2024-05-01T10:61:00Z",
    "2024-05-01", "10:00:00Z", "yesterday", "", "1714557600", "2024/05/01 10:00:00Z",
    "2024-05-01T10:00:00+0200", "2024-05-01T10:00:00 UTC",
]  # fmt: skip
BAD_IPS = ["999.1.1.1", "1.2.3", "not-an-ip", "", "10.0.0.0/8", "::g", "1.2.3.4.5", "01.2.3.4"]


def _wrong_type_variants(rec: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {**rec, "status_code": str(rec["status_code"])},
        {**rec, "status_code": rec["status_code"] + 0.5},
        {**rec, "status_code": True},
        {**rec, "rule_tags": "attack-sqli"},
        {**rec, "rule_tags": ["attack-sqli", 942]},
        {**rec, "rule_tags": [1, 2]},
        {**rec, "rule_tags": [["nested"]]},
        {**rec, "rule_id": "942100"},
        {**rec, "host": 7},
        {**rec, "client_ip": [rec["client_ip"]]},
        {**rec, "timestamp": 1714557600000},
        {**rec, "request_uri": {"path": "/"}},
        {**rec, "action": 3},
        {**rec, "user_agent": ["curl"]},
    ]


@st.composite
def hostile_line(draw: st.DrawFn) -> tuple[bytes | None, str | None, dict[str, Any] | None]:
    """(line bytes or None for a blank line, expected outcome, expected event fields)."""
    kind = draw(
        st.sampled_from(
            [
                "blank",
                "valid",
                "valid",
                "valid",
                "invalid_json",
                "two_objects",
                "bad_utf8",
                "not_an_object",
                "wrong_type",
                "missing_field",
                "invalid_ip",
                "invalid_timestamp",
                "invalid_value",
            ]
        )
    )
    if kind == "blank":
        return None, None, None
    rec, expected = draw(valid_records())
    good = draw(encoded(rec))
    if kind == "valid":
        return good, "event", expected
    if kind == "invalid_json":
        bad = draw(
            st.sampled_from([b"{", b"}", b"{not json", b"{'a': 1}", b'{"a": 1,}', b"nul", b"[1,"])
            | st.integers(1, len(good) - 1).map(lambda cut: good[:cut])
        )
        return bad, "invalid_json", None
    if kind == "two_objects":
        other = draw(encoded(draw(valid_records())[0]))
        glue = draw(st.sampled_from([b"", b" ", b"\t"]))
        bad = draw(st.sampled_from([good + glue + other, good + glue + b"{}", b"{}" + glue + good]))
        return bad, "invalid_json", None
    if kind == "bad_utf8":
        junk = draw(st.sampled_from([b"\xff", b"\xfe\xff", b"\xc3\x28", b"\x80abc"]))
        bad = draw(st.sampled_from([junk + good, good + junk, junk]))
        return bad, "invalid_json", None
    if kind == "not_an_object":
        value = draw(
            st.lists(st.integers() | TEXT, max_size=3)
            | TEXT
            | st.integers()
            | st.floats(allow_nan=False, allow_infinity=False)
            | st.booleans()
            | st.just([rec])
        )
        return json.dumps(value).encode(), "not_an_object", None
    if kind == "wrong_type":
        return draw(encoded(draw(st.sampled_from(_wrong_type_variants(rec))))), "wrong_type", None
    if kind == "missing_field":
        name = draw(st.sampled_from(REQUIRED))
        broken = dict(rec)
        if draw(st.booleans()):
            del broken[name]
        else:
            broken[name] = None
        return draw(encoded(broken)), "missing_field", None
    if kind == "invalid_ip":
        return (
            draw(encoded({**rec, "client_ip": draw(st.sampled_from(BAD_IPS))})),
            "invalid_ip",
            None,
        )
    if kind == "invalid_timestamp":
        ts = draw(st.sampled_from(BAD_TIMESTAMPS))
        return draw(encoded({**rec, "timestamp": ts})), "invalid_timestamp", None
    status = draw(st.integers(-1000, 99) | st.integers(600, 10**6))
    return draw(encoded({**rec, "status_code": status})), "invalid_value", None


@st.composite
def hostile_files(
    draw: st.DrawFn,
) -> tuple[bytes, dict[int, str], dict[int, dict[str, Any]], dict[int, bytes]]:
    items = draw(st.lists(hostile_line(), min_size=0, max_size=24))
    chunks: list[bytes] = []
    expected: dict[int, str] = {}
    fields: dict[int, dict[str, Any]] = {}
    stripped: dict[int, bytes] = {}
    for number, (raw, outcome, event) in enumerate(items):
        if raw is None:
            chunks.append(draw(st.sampled_from([b"", b"  ", b"\t", b"\r", b" \r"])))
            continue
        pad_left = draw(st.sampled_from([b"", b" ", b"\t"]))
        pad_right = draw(st.sampled_from([b"", b" ", b"\r", b"\t\r"]))
        chunks.append(pad_left + raw + pad_right)
        assert outcome is not None
        expected[number] = outcome
        stripped[number] = raw.strip()
        if event is not None:
            fields[number] = event
    data = b"\n".join(chunks) + draw(st.sampled_from([b"", b"\n"]))
    return data, expected, fields, stripped


def as_stored(fields: dict[str, Any]) -> dict[str, Any]:
    """Event fields as stored: NUL characters become U+FFFD (PostgreSQL text has no NUL)."""

    def fix(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace("\x00", "\ufffd")
        if isinstance(value, list):
            return [fix(v) for v in value]
        return value

    return {k: v if k == "event_id" else fix(v) for k, v in fields.items()}


@PROPS
@given(hostile_files())
def test_every_line_is_an_event_or_a_dead_letter(
    case: tuple[bytes, dict[int, str], dict[int, dict[str, Any]], dict[int, bytes]],
) -> None:
    data, expected, fields, stripped = case
    result = run(data)

    # nothing dropped, nothing duplicated: the offsets are exactly partitioned
    assert result.lines_read == len(expected)
    assert result.events.num_rows + result.dead_letters.num_rows == len(expected)
    event_offsets = result.events["source_offset"].to_pylist()
    dead_offsets = result.dead_letters["source_offset"].to_pylist()
    assert sorted(event_offsets + dead_offsets) == sorted(expected)
    assert event_offsets == sorted(event_offsets)
    assert dead_offsets == sorted(dead_offsets)

    # each line has the outcome its construction implies
    assert outcomes(result) == expected
    assert set(result.dead_letters["reason"].to_pylist()) <= REASONS
    assert all(result.dead_letters["detail"].to_pylist())

    for dead in result.dead_letters.to_pylist():
        assert dead["raw"] == stripped[dead["source_offset"]].decode("utf-8", errors="replace")
        assert dead["source_file"] == SOURCE

    for ev in result.events.to_pylist():
        raw = stripped[ev["source_offset"]]
        assert ev["raw"] == raw.decode("utf-8")
        want = fields[ev["source_offset"]]
        got = {k: ev[k] for k in want}
        assert got == as_stored(want)
        assert ev["source_file"] == SOURCE
        assert ev["ingested_at"] == INGESTED


@settings(PROPS, max_examples=20)
@given(hostile_files(), st.integers(0, 10**9))
def test_outcome_does_not_depend_on_file_name_or_block_start(
    case: tuple[bytes, dict[int, str], dict[int, dict[str, Any]], dict[int, bytes]],
    first_offset: int,
) -> None:
    data = case[0]
    base = run(data, source="a.jsonl")
    moved = parse(split_lines(data, first_offset), "other/b.jsonl.gz", INGESTED)
    assert {k + first_offset: v for k, v in outcomes(base).items()} == outcomes(moved)
    assert base.events["event_id"].to_pylist() == moved.events["event_id"].to_pylist()


@settings(PROPS, max_examples=25)
@given(valid_records(), st.integers(0, 50), st.integers(0, 50))
def test_same_raw_line_same_event_id_anywhere(
    pair: tuple[dict[str, Any], dict[str, Any]], before: int, after: int
) -> None:
    raw = json.dumps(pair[0]).encode()
    alone = run(raw, source="x.jsonl").events
    padded = run(b"\n" * before + raw + b"\n" * after, source="y/z.jsonl").events
    assert alone["event_id"].to_pylist() == padded["event_id"].to_pylist()
    assert padded["source_offset"].to_pylist() == [before]


# --------------------------------------------------------------------------------------
# Regression tests for defects found by these tests and fixed since
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        line(user_agent="XX").replace(b"XX", b"\xff\xfe"),
        line(request_uri="/aXXb").replace(b"XX", b"\xc3\x28"),
        line()[:-1] + b',"unknown":"\xff"}',
    ],
)
def test_invalid_utf8_inside_a_string_is_a_dead_letter(bad: bytes) -> None:
    result = run(line() + b"\n" + bad + b"\n" + line(host="z"))
    assert outcomes(result) == {0: "event", 1: "invalid_json", 2: "event"}


def _parse_in_subprocess(data: bytes) -> subprocess.CompletedProcess[str]:
    """Run parse() in a child process: the defect below kills the interpreter (SIGSEGV)."""
    code = textwrap.dedent(
        """
        import json, sys
        from datetime import datetime, timezone
        from soc_platform.parsing import split_lines
        from soc_platform.parsing.waf_json import parse
        data = bytes.fromhex(sys.argv[1])
        r = parse(split_lines(data), "f.jsonl", datetime(2024, 5, 1, tzinfo=timezone.utc))
        out = {o: "event" for o in r.events["source_offset"].to_pylist()}
        out.update(zip(r.dead_letters["source_offset"].to_pylist(),
                       r.dead_letters["reason"].to_pylist()))
        print(json.dumps(sorted(out.items())))
        """
    )
    root = Path(soc_platform.__file__).resolve().parents[1]
    return subprocess.run(
        [sys.executable, "-c", code, data.hex()],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=root,
        check=False,
    )


def test_json_null_first_line_is_not_an_object() -> None:
    proc = _parse_in_subprocess(b"null\n" + line())
    assert proc.returncode == 0, f"child died with {proc.returncode}: {proc.stderr[-500:]}"
    assert json.loads(proc.stdout) == [[0, "not_an_object"], [1, "event"]]


def test_json_null_later_line_is_not_an_object() -> None:
    proc = _parse_in_subprocess(line() + b"\nnull")
    assert proc.returncode == 0, f"child died with {proc.returncode}: {proc.stderr[-500:]}"
    assert json.loads(proc.stdout) == [[0, "event"], [1, "not_an_object"]]


# --------------------------------------------------------------------------------------
# Real-world conformance: other WAF formats are not the seed format
# --------------------------------------------------------------------------------------


def _realdata_dir() -> Path | None:
    """shared/realdata next to the project checkout (../shared/realdata from its root)."""
    project = Path(soc_platform.__file__).resolve().parents[1]
    for candidate in (project.parent / "shared" / "realdata", Path("/work/shared/realdata")):
        if candidate.is_dir():
            return candidate
    return None


REALDATA = _realdata_dir()
needs_realdata = pytest.mark.skipif(
    REALDATA is None, reason="shared/realdata (public WAF samples) is not available here"
)


def _read(path: Path) -> bytes:
    if path.name.endswith(".gz"):
        with gzip.open(path, "rb") as fh:
            return fh.read()
    return path.read_bytes()


def _realdata_files() -> list[str]:
    if REALDATA is None:
        return []
    found = sorted(
        str(p.relative_to(REALDATA))
        for p in REALDATA.rglob("*")
        if p.is_file() and p.name.endswith((".ndjson", ".ndjson.gz"))
    )
    return found


@needs_realdata
@pytest.mark.parametrize("name", _realdata_files() or ["<none>"])
def test_real_world_samples_never_crash_and_all_dead_letter(name: str) -> None:
    assert REALDATA is not None
    if name == "<none>":
        pytest.skip("no .ndjson samples in shared/realdata")
    data = _read(REALDATA / name)
    block = split_lines(data)
    assert block.lines, f"{name} has no lines"
    result = parse(block, name, INGESTED)
    assert result.events.num_rows == 0
    assert result.dead_letters["source_offset"].to_pylist() == block.offsets
    assert set(result.dead_letters["reason"].to_pylist()) <= REASONS


def _assert_all_missing_field(relative: str) -> None:
    assert REALDATA is not None
    path = REALDATA / relative
    if not path.is_file():
        pytest.skip(f"{relative} is not in shared/realdata")
    block = split_lines(path.read_bytes())
    result = parse(block, relative, INGESTED)
    assert result.events.num_rows == 0
    assert result.dead_letters["source_offset"].to_pylist() == block.offsets
    assert result.dead_letter_counts() == {"missing_field": len(block.lines)}


@needs_realdata
def test_cloudflare_firewall_event_is_missing_field() -> None:
    _assert_all_missing_field(
        "cloudflare_firewall/elastic-integrations_firewall_event.record1.ndjson"
    )


@needs_realdata
def test_aws_waf_docs_examples_are_missing_field() -> None:
    _assert_all_missing_field("aws_waf/awsdocs_examples.ndjson")
