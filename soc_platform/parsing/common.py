"""Vectorised validation helpers shared by every log format's parser."""

import hashlib
import ipaddress
from collections.abc import Sequence
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from soc_platform.models import DEAD_LETTER_SCHEMA, UTC_US

_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# RFC 3339 date-time: a zone designator is mandatory (no ambiguous local times).
_RFC3339 = r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"


def content_id(lines: Sequence[bytes]) -> list[str]:
    """Deterministic id of each raw event: a 128-bit BLAKE2b of its bytes (whitespace-trimmed).

    The same event delivered twice, in any file, gets the same id.
    """
    return [hashlib.blake2b(line, digest_size=16).hexdigest() for line in lines]


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
        # Shaped right but not a real instant (month 13, 25:00...): decide value by value.
        parsed = pa.array([_parse_one(v) for v in candidates.to_pylist()], UTC_US)
    # WAF logs predate nothing before 1970; earlier years (even 0000, which PostgreSQL
    # rejects) are typos or zero values, not events.
    too_old = pc.fill_null(pc.less(parsed, pa.scalar(_UNIX_EPOCH, UTC_US)), False)
    parsed = pc.if_else(too_old, pa.scalar(None, UTC_US), parsed)
    return parsed, pc.is_valid(parsed)


def _parse_one(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        return None


def dead_letter_table(
    *,
    source_format: str,
    source_file: str,
    offsets: Sequence[int],
    lines: Sequence[bytes],
    reasons: Sequence[str],
    details: Sequence[str],
    ingested_at: datetime,
) -> pa.Table:
    """Build dead-letter rows (raw line kept; invalid UTF-8 replaced so it can be stored)."""
    n = len(lines)
    return pa.Table.from_pydict(
        {
            "dead_letter_id": delivery_id(source_file, offsets, lines),
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
