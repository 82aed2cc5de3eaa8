"""Unit tests for the shared parsing helpers (soc_platform.parsing.common)."""

import hashlib
import ipaddress
from datetime import UTC, datetime, timedelta, timezone

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from soc_platform.models import DEAD_LETTER_SCHEMA
from soc_platform.parsing.common import (
    content_id,
    dead_letter_table,
    delivery_id,
    normalize_ips,
    parse_timestamps,
)

PROPS = settings(max_examples=80, deadline=None, database=None)
# A string shaped like RFC 3339 but not a real instant: forces the value-by-value path.
NOT_AN_INSTANT = "2024-13-01T00:00:00Z"


# --------------------------------------------------------------------------------------
# ids
# --------------------------------------------------------------------------------------


def test_content_id_is_blake2b_128_of_the_bytes() -> None:
    lines = [b'{"a":1}', b'{"a":2}', b'{"a":1}', b""]
    ids = content_id(lines)
    assert ids == [hashlib.blake2b(x, digest_size=16).hexdigest() for x in lines]
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    assert ids[0] == ids[2]
    assert len({ids[0], ids[1], ids[3]}) == 3


def test_content_id_empty() -> None:
    assert content_id([]) == []


def test_delivery_id_depends_on_source_offset_and_line() -> None:
    base = delivery_id("a.jsonl", [3], [b"x"])[0]
    assert delivery_id("a.jsonl", [3], [b"x"])[0] == base
    assert delivery_id("b.jsonl", [3], [b"x"])[0] != base
    assert delivery_id("a.jsonl", [4], [b"x"])[0] != base
    assert delivery_id("a.jsonl", [3], [b"y"])[0] != base
    # the separators keep (offset, line) pairs unambiguous
    assert delivery_id("a", [1], [b"2x"]) != delivery_id("a", [12], [b"x"])
    assert len(base) == 32


def test_delivery_id_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError):
        delivery_id("a", [1, 2], [b"x"])


# --------------------------------------------------------------------------------------
# normalize_ips
# --------------------------------------------------------------------------------------


def test_normalize_ips_canonicalises_and_flags_invalid() -> None:
    values = pa.array(
        [
            "192.0.2.1",
            "2001:0DB8:0000:0000:0000:0000:0000:0001",
            " 10.1.2.3 ",
            None,
            "nope",
            "256.1.1.1",
            "2001:db8::1",
            "nope",
            "",
        ],
        pa.string(),
    )
    normalized, ok = normalize_ips(values)
    assert normalized.to_pylist() == [
        "192.0.2.1",
        "2001:db8::1",
        "10.1.2.3",
        None,
        None,
        None,
        "2001:db8::1",
        None,
        None,
    ]
    assert ok.to_pylist() == [True, True, True, False, False, False, True, False, False]


def test_normalize_ips_empty_and_all_null() -> None:
    normalized, ok = normalize_ips(pa.array([], pa.string()))
    assert len(normalized) == 0 and len(ok) == 0
    normalized, ok = normalize_ips(pa.array([None, None], pa.string()))
    assert normalized.to_pylist() == [None, None]
    assert ok.to_pylist() == [False, False]


@PROPS
@given(st.lists(st.ip_addresses() | st.sampled_from(["x", "1.2.3", "::z", ""]), max_size=20))
def test_normalize_ips_matches_ipaddress(values: list[object]) -> None:
    texts = [str(v) if not isinstance(v, str) else v for v in values]
    expected: list[str | None] = []
    for t in texts:
        try:
            expected.append(str(ipaddress.ip_address(t)))
        except ValueError:
            expected.append(None)
    normalized, ok = normalize_ips(pa.array(texts, pa.string()))
    assert normalized.to_pylist() == expected
    assert ok.to_pylist() == [e is not None for e in expected]


def test_normalize_ips_drops_or_rejects_zone_ids() -> None:
    normalized, _ = normalize_ips(pa.array(["fe80::1%eth0"], pa.string()))
    assert normalized[0].as_py() is None or "%" not in normalized[0].as_py()


# --------------------------------------------------------------------------------------
# parse_timestamps
# --------------------------------------------------------------------------------------


def test_parse_timestamps_valid_spellings() -> None:
    values = pa.array(
        [
            "2024-05-01T10:00:00Z",
            "2024-05-01T10:00:00.5+02:00",
            "2024-05-01 10:00:00-05:00",
            "2024-05-01t10:00:00z",
            "2024-12-31T23:30:00-01:00",
            None,
        ],
        pa.string(),
    )
    parsed, ok = parse_timestamps(values)
    assert parsed.type == pa.timestamp("us", tz="UTC")
    assert parsed.to_pylist() == [
        datetime(2024, 5, 1, 10, 0, tzinfo=UTC),
        datetime(2024, 5, 1, 8, 0, 0, 500000, tzinfo=UTC),
        datetime(2024, 5, 1, 15, 0, tzinfo=UTC),
        datetime(2024, 5, 1, 10, 0, tzinfo=UTC),
        datetime(2025, 1, 1, 0, 30, tzinfo=UTC),
        None,
    ]
    assert ok.to_pylist() == [True] * 5 + [False]


@pytest.mark.parametrize(
    "text",
    [
        "2024-05-01T10:00:00",  # no zone: ambiguous local time
        "2024-05-01T10:00",
        "2024-05-01",
        "2024-13-01T10:00:00Z",
        "2024-04-31T10:00:00Z",
        "2024-05-01T24:00:01Z",
        "2024-05-01T10:00:00+0200",
        "2024-05-01T10:00:00 +02:00",
        " 2024-05-01T10:00:00Z",
        "2024-05-01T10:00:00ZZ",
        "Wed, 01 May 2024 10:00:00 GMT",
        "",
    ],
)
def test_parse_timestamps_rejects(text: str) -> None:
    parsed, ok = parse_timestamps(pa.array([text, "2024-05-01T10:00:00Z"], pa.string()))
    assert ok.to_pylist() == [False, True]
    assert parsed[0].as_py() is None
    assert parsed[1].as_py() == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


@st.composite
def instants(draw: st.DrawFn) -> tuple[str, datetime]:
    naive = draw(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1)))
    minutes = draw(st.integers(-(23 * 60 + 59), 23 * 60 + 59))
    aware = naive.replace(tzinfo=timezone(timedelta(minutes=minutes)))
    return aware.isoformat(), aware.astimezone(UTC)


@PROPS
@given(st.lists(instants(), min_size=1, max_size=10), st.booleans())
def test_parse_timestamps_same_result_on_fast_and_fallback_path(
    items: list[tuple[str, datetime]], poison: bool
) -> None:
    texts = [t for t, _ in items] + ([NOT_AN_INSTANT] if poison else [])
    parsed, ok = parse_timestamps(pa.array(texts, pa.string()))
    assert parsed.to_pylist()[: len(items)] == [want for _, want in items]
    assert ok.to_pylist() == [True] * len(items) + ([False] if poison else [])


def test_parse_timestamps_year_zero_same_verdict_in_any_block() -> None:
    _, alone = parse_timestamps(pa.array(["0000-01-01T00:00:00Z"], pa.string()))
    _, mixed = parse_timestamps(pa.array(["0000-01-01T00:00:00Z", NOT_AN_INSTANT], pa.string()))
    assert alone[0].as_py() == mixed[0].as_py()


# --------------------------------------------------------------------------------------
# dead_letter_table
# --------------------------------------------------------------------------------------


def test_dead_letter_table_rows() -> None:
    at = datetime(2024, 5, 1, 12, tzinfo=UTC)
    table = dead_letter_table(
        source_format="waf_json",
        source_file="f.jsonl",
        offsets=[3, 9],
        lines=[b"{bad", b"caf\xe9 \xff"],
        reasons=["invalid_json", "invalid_json"],
        details=["d1", "d2"],
        ingested_at=at,
    )
    assert table.schema == DEAD_LETTER_SCHEMA
    rows = table.to_pylist()
    assert [r["raw"] for r in rows] == ["{bad", "caf\ufffd \ufffd"]  # invalid UTF-8 replaced
    assert [r["source_offset"] for r in rows] == [3, 9]
    assert [r["detail"] for r in rows] == ["d1", "d2"]
    assert {r["source_file"] for r in rows} == {"f.jsonl"}
    assert {r["ingested_at"] for r in rows} == {at}
    assert [r["dead_letter_id"] for r in rows] == delivery_id(
        "f.jsonl", [3, 9], [b"{bad", b"caf\xe9 \xff"]
    )


def test_dead_letter_table_empty() -> None:
    table = dead_letter_table(
        source_format="waf_json",
        source_file="f",
        offsets=[],
        lines=[],
        reasons=[],
        details=[],
        ingested_at=datetime(2024, 1, 1, tzinfo=UTC),
    )
    assert table.num_rows == 0
    assert table.schema == DEAD_LETTER_SCHEMA
