"""Vectorised validation helpers shared by every log format's parser."""

import hashlib
import ipaddress
from collections.abc import Sequence
from datetime import datetime
from itertools import pairwise

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from soc_platform.models import DEAD_LETTER_SCHEMA, UTC_US
from soc_platform.parsing.base import EARLIEST_EVENT_TIME, latest_event_time

# RFC 3339 date-time: a zone designator is mandatory (no ambiguous local times).
_RFC3339 = r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"

# -- event identity --------------------------------------------------------------------------
#
# An event's id hashes an injective encoding of its fields: each field becomes a text with
# no 0x00 in it (0x01 -> 01 02, 0x00 -> 01 03), null becomes 01 01 (which no escaped text
# contains), and the fields are joined with 0x00. A list is the concatenation of its
# elements, each escaped (or 01 01 when null) and ended by 0x00, and is then escaped as a
# whole. So the encoding can be decoded back into the field values: distinct values give
# distinct encodings.

_SEPARATOR = pa.scalar("\x00", pa.large_string())
_NULL = pa.scalar("\x01\x01", pa.large_string())
_EMPTY = pa.scalar("", pa.large_string())


def _escape(values: pa.Array) -> pa.Array:
    data = values.buffers()[2]
    if data is None or not (np.frombuffer(data, dtype=np.uint8) <= 1).any():
        return values  # nothing to escape (the usual case): skip two copying passes
    return pc.replace_substring(
        pc.replace_substring(values, "\x01", "\x01\x02"), "\x00", "\x01\x03"
    )


def _identity_text(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One identity field as large_string text (see above)."""
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    kind = arr.type
    if pa.types.is_timestamp(kind):  # the instant, in microseconds since the epoch
        text = pc.cast(pc.cast(pc.cast(arr, UTC_US), pa.int64()), pa.large_string())
    elif pa.types.is_integer(kind):
        text = pc.cast(arr, pa.large_string())
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        text = _escape(pc.cast(arr, pa.large_string()))
    elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
        flat = _escape(pc.cast(pc.list_flatten(arr), pa.large_string()))
        ended = pc.binary_join_element_wise(pc.fill_null(flat, _NULL), _EMPTY, _SEPARATOR)
        lengths = pc.fill_null(pc.list_value_length(arr), 0).to_numpy(zero_copy_only=False)
        offsets = np.zeros(len(arr) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        lists = pa.LargeListArray.from_arrays(pa.array(offsets, pa.int64()), ended)
        joined = _escape(pc.binary_join(lists, _EMPTY))
        text = pc.if_else(pc.is_null(arr), pa.scalar(None, pa.large_string()), joined)
    else:
        raise TypeError(f"no identity encoding for {kind}")
    return pc.fill_null(text, _NULL)


def identity_encoding(source_format: str, fields: Sequence[pa.Array | pa.ChunkedArray]) -> pa.Array:
    """The injective encoding of each row's identity fields (large_string).

    Fields may be strings, integers, timestamps (taken as instants) or lists of strings.
    """
    parts = [pa.scalar(source_format.replace("\x00", ""), pa.large_string())]
    parts += [_identity_text(f) for f in fields]
    if not fields or len(fields[0]) == 0:
        return pa.array([], pa.large_string())
    return pc.binary_join_element_wise(*parts, _SEPARATOR)


def event_ids(source_format: str, fields: Sequence[pa.Array | pa.ChunkedArray]) -> pa.Array:
    """Id of each event: BLAKE2b-128 (hex) of :func:`identity_encoding`.

    A format passes the fields its events are defined by, normalised where their text
    varies for the same value (instants, canonical IPs); the same event serialised
    differently (key order, spacing, escapes, zone offset) gets the same id.
    """
    encoded = identity_encoding(source_format, fields).cast(pa.large_binary())
    n = len(encoded)
    if n == 0:
        return pa.array([], pa.string())
    _, offset_buf, data_buf = encoded.buffers()
    bounds = np.frombuffer(offset_buf, dtype=np.int64)[encoded.offset : encoded.offset + n + 1]
    data = memoryview(data_buf) if data_buf is not None else memoryview(b"")
    blake2b = hashlib.blake2b
    digests = b"".join(
        [blake2b(data[a:b], digest_size=16).digest() for a, b in pairwise(bounds.tolist())]
    )
    # 32 hex characters a row, laid out as an Arrow string array without per-row objects
    offsets = np.arange(0, 32 * (n + 1), 32, dtype=np.int32)
    hexed = digests.hex().encode()
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(hexed)])


def delivery_id(source: str, offsets: Sequence[int], lines: Sequence[bytes]) -> list[str]:
    """Id of a dead letter: where it was read and what it said (re-reading a file adds nothing)."""
    prefix = source.encode() + b"\0"
    return [
        hashlib.blake2b(prefix + str(off).encode() + b"\0" + line, digest_size=16).hexdigest()
        for off, line in zip(offsets, lines, strict=True)
    ]


def normalize_ips(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Validate IP address strings; canonicalise them (e.g. IPv6 compression).

    Validation runs once per distinct value, not per row.

    Returns:
        (normalised strings, null where invalid or missing; boolean mask of valid rows)
    """
    uniques = pc.unique(values).drop_null()
    canonical: list[str | None] = []
    for text in uniques.to_pylist():
        try:
            ip = ipaddress.ip_address(text.strip())
        except ValueError:
            canonical.append(None)
            continue
        # a zone id ("fe80::1%eth0") is local to one host and PostgreSQL's inet rejects it
        zoned = isinstance(ip, ipaddress.IPv6Address) and ip.scope_id is not None
        canonical.append(None if zoned else str(ip))
    positions = pc.index_in(values, value_set=uniques)
    normalized = pc.take(pa.array(canonical, pa.string()), positions)
    return normalized, pc.is_valid(normalized)


def parse_timestamps(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Parse RFC 3339 strings to UTC microsecond timestamps.

    Returns:
        (timestamps, null where invalid; boolean mask of valid rows)
    """
    shaped = pc.fill_null(pc.match_substring_regex(values, _RFC3339), False)
    candidates = pc.if_else(shaped, pc.utf8_upper(values), pa.scalar(None, pa.string()))
    candidates = pc.replace_substring(candidates, " ", "T")
    try:
        parsed = pc.cast(candidates, UTC_US)
    except pa.ArrowInvalid:
        # Arrow refuses digits beyond the microsecond: drop them (truncate), then try again
        candidates = pc.replace_substring_regex(candidates, r"(\.\d{6})\d+", r"\1")
        parsed = _cast_each(candidates)
    return parsed, pc.is_valid(parsed)


def in_event_window(parsed: pa.Array, ingested_at: datetime) -> pa.Array:
    """Which instants are accepted event times: from 1970 (WAF logs predate nothing
    earlier; year 0000, which PostgreSQL rejects, is a zero value, not an event) to
    shortly after ingestion (see :data:`~soc_platform.parsing.base.MAX_FUTURE_SKEW`).
    False where ``parsed`` is null."""
    earliest = pa.scalar(EARLIEST_EVENT_TIME, UTC_US)
    latest = pa.scalar(latest_event_time(ingested_at), UTC_US)
    inside = pc.and_(pc.greater_equal(parsed, earliest), pc.less_equal(parsed, latest))
    return pc.fill_null(inside, False)


def _cast_each(texts: pa.Array) -> pa.Array:
    """Cast timestamp texts, null where a text is no instant (month 13, 25:00...).

    Halves a failing slice until the culprits are alone, so each verdict is the cast's on
    that value alone (never its neighbours') and good values cost no per-value call.
    """
    pieces: list[pa.Array] = []
    stack = [(0, len(texts))]
    while stack:
        lo, hi = stack.pop()
        if lo >= hi:
            continue
        part = texts.slice(lo, hi - lo)
        try:
            pieces.append(pc.cast(part, UTC_US))
        except pa.ArrowInvalid:
            if hi - lo == 1:
                pieces.append(pa.nulls(1, UTC_US))
            else:
                mid = (lo + hi) // 2
                stack.append((mid, hi))  # popped second: pieces stay in order
                stack.append((lo, mid))
    return pa.concat_arrays(pieces) if pieces else pa.array([], UTC_US)


def replace_nul(table: pa.Table, names: Sequence[str]) -> tuple[pa.Table, int]:
    """``table`` with every NUL character in the string (or list of string) columns
    ``names`` replaced by U+FFFD, and how many rows changed.

    PostgreSQL text cannot hold NUL; replacing it here keeps the lake's parsed columns and
    the hot rows equal, and U+FFFD shows where a NUL was (stripping it would hide a NUL
    injection such as ``/file.php\\u0000.jpg``).
    """
    changed = np.zeros(table.num_rows, dtype=bool)
    for name in names:
        col = table[name].combine_chunks()
        if pa.types.is_list(col.type):
            flat = pc.list_flatten(col)
            hit = pc.fill_null(pc.match_substring(flat, "\x00"), False)
            if not pc.any(hit).as_py():
                continue
            lengths = pc.fill_null(pc.list_value_length(col), 0).to_numpy(zero_copy_only=False)
            parents = np.repeat(np.arange(len(col)), lengths)
            changed[parents[hit.to_numpy(zero_copy_only=False)]] = True
            offsets = np.zeros(len(col) + 1, dtype=np.int32)
            np.cumsum(lengths, out=offsets[1:])
            fixed = pa.ListArray.from_arrays(
                pa.array(offsets, pa.int32()), pc.replace_substring(flat, "\x00", "\ufffd")
            )
            col = pc.if_else(pc.is_null(col), pa.scalar(None, fixed.type), fixed)
        else:
            hit = pc.fill_null(pc.match_substring(col, "\x00"), False)
            if not pc.any(hit).as_py():
                continue
            changed |= hit.to_numpy(zero_copy_only=False)
            col = pc.replace_substring(col, "\x00", "\ufffd")
        table = table.set_column(table.schema.get_field_index(name), name, col)
    return table, int(changed.sum())


def dead_letter_table(
    *,
    source_format: str,
    source_file: str,
    offsets: Sequence[int],
    lines: Sequence[bytes],
    reasons: Sequence[str],
    details: Sequence[str],
    ingested_at: datetime,
    identities: Sequence[bytes] | None = None,
) -> pa.Table:
    """Build dead-letter rows (raw line kept; invalid UTF-8 replaced so it can be stored).

    ``identities``: what each id is computed from, when a row does not keep its whole line
    (default: ``lines``).
    """
    n = len(lines)
    return pa.Table.from_pydict(
        {
            "dead_letter_id": delivery_id(source_file, offsets, identities or lines),
            "raw": [line.decode("utf-8", errors="replace") for line in lines],
            "source_format": [source_format] * n,
            "source_file": [source_file] * n,
            "source_offset": list(offsets),
            "reason": list(reasons),
            "detail": list(details),
            "ingested_at": pa.array([ingested_at] * n, UTC_US),
        },
        schema=DEAD_LETTER_SCHEMA,
    )
