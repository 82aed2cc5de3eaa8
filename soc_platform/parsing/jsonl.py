"""Bulk JSON-lines decoding with Arrow, isolating bad lines without a per-line Python loop.

The fast path hands a whole block of lines to Arrow's C++ JSON reader. Only when the block
fails (invalid JSON, a wrong type, several values on one line) is it split in halves until
the failing lines are isolated, so the cost of a bad line is O(log n) Arrow calls, and
each isolated line is classified in Python to give the dead letter a precise reason.
"""

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.json as pj

from soc_platform.models import DeadLetterReason


@dataclass(frozen=True)
class LineBlock:
    """Non-blank lines of one input file and their 0-based line numbers."""

    lines: list[bytes]
    offsets: list[int]


@dataclass(frozen=True)
class RejectedLine:
    """A line index (into a LineBlock) and why it was rejected."""

    index: int
    reason: DeadLetterReason
    detail: str


def split_lines(data: bytes, first_offset: int = 0) -> LineBlock:
    """Split decoded file content into non-blank lines, keeping each line's number."""
    lines: list[bytes] = []
    offsets: list[int] = []
    for number, line in enumerate(data.split(b"\n"), start=first_offset):
        stripped = line.strip()
        if stripped:
            lines.append(stripped)
            offsets.append(number)
    return LineBlock(lines, offsets)


_JSON_KIND = {
    pa.types.is_string: (str,),
    pa.types.is_integer: (int,),
    pa.types.is_floating: (int, float),
    pa.types.is_boolean: (bool,),
    pa.types.is_list: (list,),
}


def _expected(dtype: pa.DataType) -> tuple[type, ...]:
    for predicate, kinds in _JSON_KIND.items():
        if predicate(dtype):
            return kinds
    return (object,)


def classify_line(line: bytes, schema: pa.Schema) -> tuple[DeadLetterReason, str]:
    """Say why Arrow rejected one line, in terms a person can act on."""
    try:
        value = json.loads(line)
    except UnicodeDecodeError as exc:
        return DeadLetterReason.INVALID_JSON, f"not UTF-8: {exc.reason}"
    except json.JSONDecodeError as exc:
        return DeadLetterReason.INVALID_JSON, f"{exc.msg} at column {exc.colno}"
    if not isinstance(value, dict):
        return DeadLetterReason.NOT_AN_OBJECT, f"expected a JSON object, got {type(value).__name__}"
    for fld in schema:
        got = value.get(fld.name)
        if got is None:
            continue
        kinds = _expected(fld.type)
        # bool is an int subclass in Python but not a JSON number
        if isinstance(got, bool) and bool not in kinds:
            ok = False
        else:
            ok = isinstance(got, kinds)
        if ok and pa.types.is_integer(fld.type) and isinstance(got, float):
            ok = False
        if ok and pa.types.is_list(fld.type):
            inner = _expected(fld.type.value_type)
            ok = isinstance(got, list) and all(v is None or isinstance(v, inner) for v in got)
        if not ok:
            return DeadLetterReason.WRONG_TYPE, (
                f"{fld.name}: expected {fld.type}, got {type(got).__name__} {json.dumps(got)[:80]}"
            )
    return DeadLetterReason.INVALID_JSON, "not readable as one JSON object per line"


def _try_read(lines: Sequence[bytes], schema: pa.Schema) -> pa.Table | None:
    data = b"\n".join(lines)
    options = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    block_size = max(1 << 20, len(data) + 1)
    try:
        table = pj.read_json(
            io.BytesIO(data),
            read_options=pj.ReadOptions(block_size=block_size, use_threads=True),
            parse_options=options,
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    # Several JSON values on one line parse as several rows: the block no longer maps
    # one row per line, so treat it as failed and isolate the culprit.
    if table.num_rows != len(lines):
        return None
    return table


def read_json_rows(
    block: LineBlock, schema: pa.Schema
) -> tuple[pa.Table, list[int], list[RejectedLine]]:
    """Decode every line of ``block`` against ``schema``.

    Returns:
        The decoded rows (one per accepted line, in order), the block index of each row,
        and the rejected lines with reasons.
    """
    tables: list[pa.Table] = []
    kept: list[int] = []
    rejected: list[RejectedLine] = []
    stack = [(0, len(block.lines))]
    while stack:
        lo, hi = stack.pop()
        if lo >= hi:
            continue
        table = _try_read(block.lines[lo:hi], schema)
        if table is not None:
            tables.append(table)
            kept.extend(range(lo, hi))
        elif hi - lo == 1:
            reason, detail = classify_line(block.lines[lo], schema)
            rejected.append(RejectedLine(lo, reason, detail))
        else:
            mid = (lo + hi) // 2
            # pop order: left half first, so rows stay in input order
            stack.append((mid, hi))
            stack.append((lo, mid))
    if not tables:
        return schema.empty_table(), [], rejected
    return pa.concat_tables(tables), kept, rejected
