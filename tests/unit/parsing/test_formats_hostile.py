"""Hostile input for the AWS WAF, ModSecurity/Coraza and Cloudflare parsers: records whose
fields hold any JSON value (huge integers, floats, nulls, lists, objects, odd text) mixed
with garbage lines never fail a block, and every record is an event or a dead letter
exactly once, with an accepted event time (property tests, hypothesis)."""

import copy
import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from soc_platform.models import LAKE_EVENT_SCHEMA, DeadLetterReason
from soc_platform.parsing import get_parser
from soc_platform.parsing.base import EARLIEST_EVENT_TIME, latest_event_time
from soc_platform.parsing.detect import parse_bytes
from soc_platform.parsing.lines import split_lines
from tests.unit.parsing.test_formats import CRS, aws, cf

INGESTED = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
REASONS = {str(r) for r in DeadLetterReason}
PROPS = settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.sampled_from([2**64, -(2**70), 10**17, 10**11, 1773144000, 0, 403, 999])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(
        ["", "-", "null", "X.X.X.X", "::ffff:1.2.3.4", "2026-03-10T12:00:00Z",
         "9999-12-31T23:59:59Z", "Mon Mar  9 12:00:00 2026", "2026/03/09 12:00:00", "\x00",
         "?", "BLOCK", "block"]
    )
)  # fmt: skip
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def modsec_record() -> dict[str, Any]:
    return {
        "transaction": {
            "client_ip": "203.0.113.9",
            "time_stamp": "Mon Mar  9 12:00:00 2026",
            "unique_id": "1",
            "request": {
                "method": "GET",
                "uri": "/?a=1",
                "headers": {"Host": "h", "User-Agent": "u"},
            },
            "response": {"http_code": 403},
            "producer": {"secrules_engine": "Enabled"},
            "messages": copy.deepcopy(CRS),
        }
    }


TEMPLATES = {"aws_waf": aws, "modsecurity": modsec_record, "cloudflare": cf}


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += paths(v, (*prefix, i))
    return out


def mutate(record: dict[str, Any], where: tuple[Any, ...], value: Any) -> None:
    node = record
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value


@st.composite
def hostile_file(draw: st.DrawFn, fmt: str) -> list[bytes]:
    lines = []
    for _ in range(draw(st.integers(1, 8))):
        if draw(st.integers(0, 9)) == 0:
            lines.append(
                draw(
                    st.sampled_from([b"{", b"null", b"[1]", b"{}", b'{"a":1}{"b":2}', b"\xff\xfe"])
                )
            )
            continue
        record = TEMPLATES[fmt]()
        targets = paths(record)
        for _ in range(draw(st.integers(0, 3))):
            mutate(record, draw(st.sampled_from(targets)), draw(VALUES))
            targets = paths(record)
        lines.append(json.dumps(record).encode())
    return lines


def check(result_events: Any, dead: Any, offsets: list[int], read: int) -> None:
    assert result_events.schema == LAKE_EVENT_SCHEMA
    seen = result_events["source_offset"].to_pylist() + dead["source_offset"].to_pylist()
    assert sorted(seen) == sorted(offsets) and read == len(offsets)
    assert set(dead["reason"].to_pylist()) <= REASONS
    latest = latest_event_time(INGESTED)
    for t in result_events["event_time"].to_pylist():
        assert EARLIEST_EVENT_TIME <= t <= latest
    for s in result_events["status_code"].to_pylist():
        assert s is None or 100 <= s <= 599


def run(fmt: str, lines: list[bytes]) -> None:
    block = split_lines(b"\n".join(lines))
    result = get_parser(fmt)(block, "f", INGESTED)
    check(result.events, result.dead_letters, block.offsets, result.lines_read)


@PROPS
@given(hostile_file("aws_waf"))
def test_aws_waf_hostile(lines: list[bytes]) -> None:
    run("aws_waf", lines)


@PROPS
@given(hostile_file("modsecurity"))
def test_modsecurity_hostile(lines: list[bytes]) -> None:
    run("modsecurity", lines)


@PROPS
@given(hostile_file("cloudflare"))
def test_cloudflare_hostile(lines: list[bytes]) -> None:
    run("cloudflare", lines)


@PROPS
@given(st.sampled_from(sorted(TEMPLATES)).flatmap(lambda f: hostile_file(f)), st.booleans())
def test_any_layout_any_detection(lines: list[bytes], concatenated: bool) -> None:
    """Through the bytes path (layout, detection): every record accounted for."""
    data = b"".join(lines) if concatenated else b"\n".join(lines)
    result = parse_bytes(data, "obj", INGESTED)
    n = result.events.num_rows + result.dead_letters.num_rows
    assert n == result.lines_read
    assert set(result.dead_letters["reason"].to_pylist()) <= REASONS
