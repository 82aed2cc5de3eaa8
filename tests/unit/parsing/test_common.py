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
    dead_letter_table,
    delivery_id,
    event_ids,
    identity_encoding,
    normalize_ips,
    parse_timestamps,
)

PROPS = settings(max_examples=80, deadline=None, database=None)
# A string shaped like RFC 3339 but not a real instant: forces the value-by-value path.
NOT_AN_INSTANT = "2024-13-01T00:00:00Z"


# --------------------------------------------------------------------------------------
# ids
# --------------------------------------------------------------------------------------


# The identity encoding's tricky bytes: its separator, escape and their escape codes.
TRICKY_TEXT = st.text(st.sampled_from("\x00\x01\x02\x03a\u00e9"), max_size=6)
IDENTITY_ROWS = st.tuples(
    st.none() | TRICKY_TEXT,
    st.none() | st.integers(-(2**63), 2**63 - 1),
    st.none() | st.lists(st.none() | TRICKY_TEXT, max_size=4),
    st.integers(0, 2**50),
)
IDENTITY_TYPES = [pa.string(), pa.int64(), pa.list_(pa.string()), pa.timestamp("us", tz="UTC")]


def _columns(rows: list[tuple[object, ...]]) -> list[pa.Array]:
    cols = []
    for i, kind in enumerate(IDENTITY_TYPES):
        values = [r[i] for r in rows]
        if pa.types.is_timestamp(kind):
            cols.append(pa.array(values, pa.int64()).cast(kind))
        else:
            cols.append(pa.array(values, kind))
    return cols


def _decode(encoded: str) -> tuple[object, ...]:
    """Invert identity_encoding for IDENTITY_TYPES: proof by construction that it is
    injective (a function with a left inverse is)."""

    def unescape(text: str) -> str:
        out, i = [], 0
        while i < len(text):
            if text[i] == "\x01":
                out.append({"\x02": "\x01", "\x03": "\x00"}[text[i + 1]])
                i += 2
            else:
                out.append(text[i])
                i += 1
        return "".join(out)

    fmt, text, num, tags, stamp = encoded.split("\x00")
    assert fmt == "fmt"
    null = "\x01\x01"
    items: list[str | None] | None = None
    if tags != null:
        parts = unescape(tags).split("\x00")
        assert parts[-1] == ""
        items = [None if p == null else unescape(p) for p in parts[:-1]]
    return (
        None if text == null else unescape(text),
        None if num == null else int(num),
        items,
        int(stamp),
    )


@PROPS
@given(st.lists(IDENTITY_ROWS, max_size=8))
def test_identity_encoding_decodes_back_to_the_fields(rows: list[tuple[object, ...]]) -> None:
    encoded = identity_encoding("fmt", _columns(rows)).to_pylist()
    assert [_decode(e) for e in encoded] == rows


@PROPS
@given(IDENTITY_ROWS, IDENTITY_ROWS)
def test_distinct_fields_give_distinct_encodings_and_ids(
    a: tuple[object, ...], b: tuple[object, ...]
) -> None:
    encoded = identity_encoding("fmt", _columns([a, b])).to_pylist()
    ids = event_ids("fmt", _columns([a, b])).to_pylist()
    assert (encoded[0] == encoded[1]) == (a == b)
    assert (ids[0] == ids[1]) == (a == b)


def test_identity_encoding_tells_null_empty_and_empty_list_apart() -> None:
    rows: list[tuple[object, ...]] = [
        (None, None, None, 0),
        ("", 0, [], 0),
        ("", 0, [""], 0),
        ("", 0, [None], 0),
        ("", 0, ["", ""], 0),
        ("\x01\x01", 0, ["\x00"], 0),
    ]
    encoded = identity_encoding("fmt", _columns(rows)).to_pylist()
    assert len(set(encoded)) == len(rows)


def test_event_ids_are_blake2b_128_of_the_encoding() -> None:
    cols = _columns([("a", 1, ["t"], 5), ("b", None, None, 6)])
    encoded = identity_encoding("fmt", cols).to_pylist()
    ids = event_ids("fmt", cols).to_pylist()
    assert ids == [hashlib.blake2b(e.encode(), digest_size=16).hexdigest() for e in encoded]
    # sliced and chunked inputs give the same ids as the rows alone
    chunked = [pa.chunked_array([c.slice(0, 1), c.slice(1)]) for c in cols]
    assert event_ids("fmt", chunked).to_pylist() == ids
    assert event_ids("fmt", [c.slice(1) for c in cols]).to_pylist() == ids[1:]


def test_event_ids_empty_and_format_matters() -> None:
    assert event_ids("fmt", [pa.array([], pa.string())]).to_pylist() == []
    one = [pa.array(["x"])]
    assert event_ids("a", one).to_pylist() != event_ids("b", one).to_pylist()


def test_event_ids_timestamps_are_instants() -> None:
    utc = pa.array([1_000_000], pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    paris = pa.array([1_000], pa.int64()).cast(pa.timestamp("ms", tz="Europe/Paris"))
    assert event_ids("f", [utc]).to_pylist() == event_ids("f", [paris]).to_pylist()


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
