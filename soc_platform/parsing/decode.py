"""Decoding records of nested formats with Arrow, accepting the variants real logs show.

A format gives one or more explicit input schemas (variants: Coraza writes headers as
lists where ModSecurity writes strings, Cloudflare's ``Datetime`` is a number or a
string...). Every record is read in bulk with the first; the records it refuses for a
type are read with the next, and so on. A record Arrow refuses because a key it reads is
repeated (ModSecurity writes a repeated request header as a repeated JSON key) is decoded
once by Python's JSON parser, the first value of each key kept, and read again; its raw
text stays as written.
"""

import io
import json
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.json as pj

from soc_platform.models import DeadLetterReason
from soc_platform.parsing.base import DEFAULT_MAX_LINE_BYTES, MAX_NESTING_DEPTH
from soc_platform.parsing.jsonl import RejectedLine, read_json_rows
from soc_platform.parsing.lines import LineBlock

#: Reasons for which another variant (or de-duplicated keys) may still read a record.
_RETRY = frozenset({DeadLetterReason.WRONG_TYPE, DeadLetterReason.INVALID_VALUE})


@dataclass(frozen=True)
class Decoded:
    """Decoded records: ``parts`` are (variant index, rows) in order; ``kept`` the block
    index of each row across the parts, ``raw`` each row's record text as written."""

    parts: list[tuple[int, pa.Table]]
    kept: list[int]
    raw: pa.Array
    rejected: list[RejectedLine]
    escaped_nul: bool = True
    rewritten: list[int] = field(default_factory=list)  # block indices read de-duplicated


def _first_wins(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        out.setdefault(key, value)
    return out


def _dedupe(line: bytes) -> bytes | None:
    try:
        value = json.loads(line, object_pairs_hook=_first_wins)
    except (ValueError, RecursionError):
        return None
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def decode_records(
    block: LineBlock,
    variants: list[pa.Schema],
    *,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> Decoded:
    """Decode each record of ``block`` with the first variant schema that reads it."""
    parts: list[tuple[int, pa.Table]] = []
    kept: list[int] = []
    raws: list[pa.Array] = []
    # the variant the file is written in goes first: reading a whole block with another
    # one would send every record down the slow one-by-one path
    order = _probe(block, variants)
    first = read_json_rows(block, variants[order[0]], max_line_bytes=max_line_bytes)
    parts.append((order[0], first.table))
    kept += first.kept
    raws.append(first.raw)
    final = {r.index: r for r in first.rejected}
    todo = [r.index for r in first.rejected if r.reason in _RETRY and r.kept is None]
    lines = {i: block.lines[i] for i in todo}
    rewritten: list[int] = []
    for attempt in range(2):  # as written, then with repeated keys dropped
        if attempt:
            fixed = {i: _dedupe(block.lines[i]) for i in todo}
            todo = [i for i in todo if fixed[i] is not None]
            lines = {i: fixed[i] or b"" for i in todo}
        for rank, v in enumerate(order):
            if not todo or (rank == 0 and not attempt):
                continue
            sub = LineBlock([lines[i] for i in todo], todo)
            got = read_json_rows(sub, variants[v], max_line_bytes=max_line_bytes)
            if got.kept:
                parts.append((v, got.table))
                idx = [todo[k] for k in got.kept]
                kept += idx
                raws.append(pa.array([block.lines[i].decode("utf-8") for i in idx], pa.string()))
                if attempt:
                    rewritten += idx
                for i in idx:
                    final.pop(i, None)
            done = {todo[k] for k in got.kept}
            todo = [i for i in todo if i not in done]
    rejected = sorted(final.values(), key=lambda r: r.index)
    nul = first.escaped_nul  # over the whole block: the retried records included
    return Decoded(
        parts,
        kept,
        pa.concat_arrays(raws) if raws else pa.array([], pa.string()),
        rejected,
        escaped_nul=nul,
        rewritten=rewritten,
    )


#: How many records decide which variant is read first.
PROBE_RECORDS = 32


def _probe(block: LineBlock, variants: list[pa.Schema]) -> list[int]:
    """Variant indices, the first one that reads the block's first records first."""
    if len(variants) == 1:
        return [0]
    # only lines no JSON reader chokes on (a bare ``null`` crashes Arrow's; see jsonl.py)
    safe = [
        line
        for line in block.lines[: 4 * PROBE_RECORDS]
        if line[:1] == b"{"
        and len(line) <= DEFAULT_MAX_LINE_BYTES
        and line.count(b"{") + line.count(b"[") <= MAX_NESTING_DEPTH
    ][:PROBE_RECORDS]
    if not safe:
        return list(range(len(variants)))
    sample = b"\n".join(safe)
    for v, schema in enumerate(variants):
        options = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
        try:
            pj.read_json(io.BytesIO(sample), parse_options=options)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            continue
        return [v, *(k for k in range(len(variants)) if k != v)]
    return list(range(len(variants)))
