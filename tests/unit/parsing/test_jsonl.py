"""Unit tests for bulk JSON-lines decoding (soc_platform.parsing.jsonl)."""

import json

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from soc_platform.models import DeadLetterReason
from soc_platform.parsing.jsonl import LineBlock, classify_line, read_json_rows, split_lines

PROPS = settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

SCHEMA = pa.schema(
    [
        ("n", pa.int64()),
        ("s", pa.string()),
        ("f", pa.float64()),
        ("b", pa.bool_()),
        ("tags", pa.list_(pa.string())),
    ]
)


# --------------------------------------------------------------------------------------
# split_lines
# --------------------------------------------------------------------------------------


def test_split_lines_keeps_line_numbers_and_skips_blanks() -> None:
    block = split_lines(b'{"n":1}\n\n  {"n":2}  \r\n\t\n{"n":3}\n')
    assert block.lines == [b'{"n":1}', b'{"n":2}', b'{"n":3}']
    assert block.offsets == [0, 2, 4]


def test_split_lines_first_offset() -> None:
    block = split_lines(b"a\n\nb", first_offset=41)
    assert block.lines == [b"a", b"b"]
    assert block.offsets == [41, 43]


@pytest.mark.parametrize("data", [b"", b"\n", b"   ", b"\r\n\r\n", b" \t \n \x0b\x0c\n"])
def test_split_lines_blank_input(data: bytes) -> None:
    assert split_lines(data) == LineBlock([], [])


def test_split_lines_does_not_split_on_carriage_return_alone() -> None:
    # only \n ends a line; a stray \r inside stays part of the line
    block = split_lines(b"a\rb\nc")
    assert block.lines == [b"a\rb", b"c"]
    assert block.offsets == [0, 1]


@PROPS
@given(st.lists(st.sampled_from([b"", b"  ", b"\t\r", b"x", b" y ", b"{}", b"\xff"]), max_size=30))
def test_split_lines_matches_line_numbering(parts: list[bytes]) -> None:
    block = split_lines(b"\n".join(parts))
    expected = [(i, p.strip()) for i, p in enumerate(parts) if p.strip()]
    assert list(zip(block.offsets, block.lines, strict=True)) == expected


# --------------------------------------------------------------------------------------
# classify_line
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason", "detail_part"),
    [
        (b"{nope", DeadLetterReason.INVALID_JSON, "column"),
        (b'{"n": 1} {"n": 2}', DeadLetterReason.INVALID_JSON, "Extra data"),
        (b'{"s": "\xff"}', DeadLetterReason.INVALID_JSON, "not UTF-8"),
        (b"[1, 2]", DeadLetterReason.NOT_AN_OBJECT, "list"),
        (b'"text"', DeadLetterReason.NOT_AN_OBJECT, "str"),
        (b"3.5", DeadLetterReason.NOT_AN_OBJECT, "float"),
        (b"null", DeadLetterReason.NOT_AN_OBJECT, "NoneType"),
        (b'{"n": "1"}', DeadLetterReason.WRONG_TYPE, "n:"),
        (b'{"n": 1.0}', DeadLetterReason.WRONG_TYPE, "n:"),  # a float is not an integer
        (b'{"n": true}', DeadLetterReason.WRONG_TYPE, "n:"),  # nor is a boolean
        (b'{"s": 5}', DeadLetterReason.WRONG_TYPE, "s:"),
        (b'{"s": {"a": 1}}', DeadLetterReason.WRONG_TYPE, "s:"),
        (b'{"f": "1.5"}', DeadLetterReason.WRONG_TYPE, "f:"),
        (b'{"f": false}', DeadLetterReason.WRONG_TYPE, "f:"),
        (b'{"b": 1}', DeadLetterReason.WRONG_TYPE, "b:"),
        (b'{"tags": "a"}', DeadLetterReason.WRONG_TYPE, "tags:"),
        (b'{"tags": ["a", 1]}', DeadLetterReason.WRONG_TYPE, "tags:"),
        (b'{"tags": [["a"]]}', DeadLetterReason.WRONG_TYPE, "tags:"),
    ],
)
def test_classify_line(raw: bytes, reason: DeadLetterReason, detail_part: str) -> None:
    got_reason, detail = classify_line(raw, SCHEMA)
    assert got_reason is reason
    assert detail_part in detail


def test_classify_line_accepts_right_types_and_nulls() -> None:
    # Floats accept integers, lists accept null elements, nulls and unknown fields are fine;
    # with nothing to blame, the reason is Arrow's own (invalid_value, its message).
    reason, detail = classify_line(
        b'{"n": 1, "s": null, "f": 2, "b": false, "tags": ["a", null], "other": [1]}',
        SCHEMA,
        arrow_error="JSON parse error: something new",
    )
    assert reason is DeadLetterReason.INVALID_VALUE
    assert detail == "Arrow's JSON reader refused it: JSON parse error: something new"


def test_classify_line_detail_is_bounded() -> None:
    _, detail = classify_line(json.dumps({"s": list(range(1000))}).encode(), SCHEMA)
    assert len(detail) < 200


# --------------------------------------------------------------------------------------
# read_json_rows
# --------------------------------------------------------------------------------------


def _block(lines: list[bytes]) -> LineBlock:
    return LineBlock(lines, list(range(len(lines))))


def test_read_json_rows_all_good_in_order() -> None:
    lines = [json.dumps({"n": i, "s": f"v{i}", "tags": [str(i)]}).encode() for i in range(50)]
    rows = read_json_rows(_block(lines), SCHEMA)
    table, kept, rejected = rows.table, rows.kept, rows.rejected
    assert table.schema == SCHEMA
    assert kept == list(range(50))
    assert rejected == []
    assert table["n"].to_pylist() == list(range(50))
    assert table["tags"].to_pylist() == [[str(i)] for i in range(50)]
    assert table["b"].null_count == 50  # absent fields are null


def test_read_json_rows_isolates_bad_lines() -> None:
    lines = [json.dumps({"n": i}).encode() for i in range(20)]
    lines[0] = b"{broken"
    lines[7] = b'{"n": "seven"}'
    lines[8] = b"[8]"
    lines[19] = b'{"n": 1}{"n": 2}'
    rows = read_json_rows(_block(lines), SCHEMA)
    table, kept, rejected = rows.table, rows.kept, rows.rejected
    assert [(r.index, r.reason) for r in rejected] == [
        (0, DeadLetterReason.INVALID_JSON),
        (7, DeadLetterReason.WRONG_TYPE),
        (8, DeadLetterReason.NOT_AN_OBJECT),
        (19, DeadLetterReason.INVALID_JSON),
    ]
    assert kept == [i for i in range(20) if i not in (0, 7, 8, 19)]
    assert table["n"].to_pylist() == kept
    assert all(r.detail for r in rejected)


def test_read_json_rows_all_bad_gives_empty_table_with_schema() -> None:
    rows = read_json_rows(_block([b"{", b"[]", b"1"]), SCHEMA)
    table, kept, rejected = rows.table, rows.kept, rows.rejected
    assert table.num_rows == 0
    assert table.schema == SCHEMA
    assert kept == []
    assert [r.index for r in rejected] == [0, 1, 2]


def test_read_json_rows_empty_block() -> None:
    rows = read_json_rows(LineBlock([], []), SCHEMA)
    table, kept, rejected = rows.table, rows.kept, rows.rejected
    assert (table.num_rows, kept, rejected) == (0, [], [])
    assert table.schema == SCHEMA


def test_read_json_rows_large_block_with_one_bad_line() -> None:
    lines = [b'{"n": %d, "s": "x"}' % i for i in range(20_000)]
    lines[12_345] = b'{"n": "oops"}'
    rows = read_json_rows(_block(lines), SCHEMA)
    table, kept, rejected = rows.table, rows.kept, rows.rejected
    assert [(r.index, r.reason) for r in rejected] == [(12_345, DeadLetterReason.WRONG_TYPE)]
    assert table.num_rows == 19_999
    assert table["n"].to_pylist() == kept


GOOD = st.integers(-(2**62), 2**62).map(
    lambda i: ("good", json.dumps({"n": i, "s": str(i)}).encode())
)
BAD = st.sampled_from(
    [
        b"{",
        b'{"n": "x"}',
        b'{"n": 1.5}',
        b'{"tags": [1]}',
        b'{"s": []}',
        b"[1]",
        b'"s"',
        b"7",
        b"false",
        b'{"n": 1} {"n": 2}',
        b'{"n": 1}{}',
        b"\xff{}",
    ]
).map(lambda b: ("bad", b))


@PROPS
@given(st.lists(GOOD | BAD, max_size=40))
def test_read_json_rows_partitions_indices(items: list[tuple[str, bytes]]) -> None:
    lines = [raw for _, raw in items]
    rows = read_json_rows(_block(lines), SCHEMA)
    table, kept, rejected = rows.table, rows.kept, rows.rejected
    bad_idx = [r.index for r in rejected]
    assert sorted(kept + bad_idx) == list(range(len(lines)))
    assert kept == sorted(kept)
    assert kept == [i for i, (kind, _) in enumerate(items) if kind == "good"]
    assert sorted(bad_idx) == [i for i, (kind, _) in enumerate(items) if kind == "bad"]
    # each decoded row is the line it claims to be
    assert table["n"].to_pylist() == [json.loads(lines[i])["n"] for i in kept]
    assert all(isinstance(r.reason, DeadLetterReason) for r in rejected)
