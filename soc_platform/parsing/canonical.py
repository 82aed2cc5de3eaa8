"""From a format's extracted columns to canonical events and dead letters (shared by the
AWS WAF, ModSecurity/Coraza and Cloudflare parsers; the seed parser uses
:func:`complete_columns` only).

A format decodes its records (:mod:`soc_platform.parsing.decode`), extracts the canonical
columns in bulk, and hands them here with the fields that define "the same event" and
its own checks; the common checks (time, IP, status), ids, NUL handling and dead letters
are done once, here.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc

from soc_platform.models import LAKE_EVENT_SCHEMA, DeadLetterReason
from soc_platform.parsing.arrowkit import STRING_LIST, constant, split_uri
from soc_platform.parsing.base import ParseResult, latest_event_time
from soc_platform.parsing.common import (
    dead_letter_table,
    event_ids,
    in_event_window,
    normalize_ips,
    replace_nul,
)
from soc_platform.parsing.decode import Decoded
from soc_platform.parsing.lines import LineBlock

#: A check over extracted rows: which pass, the reason of those that do not, and the
#: detail of a failing row (called for failing rows only).
Check = tuple[pa.Array, DeadLetterReason, Callable[[int], str]]

_LIST_COLUMNS = ("rule_tags", "rule_ids", "rule_names", "labels")
#: String fields whose NUL characters become U+FFFD (PostgreSQL text cannot hold NUL).
TEXT_FIELDS = (
    "host",
    "request_method",
    "request_uri",
    "user_agent",
    "rule_id",
    "rule_msg",
    "rule_tags",
    "url_path",
    "url_query",
    "rule_ids",
    "rule_names",
    "labels",
    "request_id",
)


def complete_columns(columns: dict[str, pa.Array], n: int) -> dict[str, pa.Array]:
    """``columns`` with every event column present: ``url_path``/``url_query`` split from
    ``request_uri`` when not given, lists empty rather than null, the rest null."""
    out = dict(columns)
    if "request_uri" in out and ("url_path" not in out or "url_query" not in out):
        path, query = split_uri(out["request_uri"])
        out.setdefault("url_path", path)
        out.setdefault("url_query", query)
    for fld in LAKE_EVENT_SCHEMA:
        if fld.name not in out:
            out[fld.name] = pa.nulls(n, fld.type)
    for name in _LIST_COLUMNS:
        col = out[name]
        col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        out[name] = pc.fill_null(col.cast(STRING_LIST), pa.scalar([], STRING_LIST))
    return out


@dataclass
class Extracted:
    """What a format read from its decoded records (one row per decoded record).

    ``columns`` holds canonical columns: ``event_time`` parsed (null where the text is no
    time), ``client_ip`` as written. ``identity`` are the fields that make an event the
    same event. ``checks`` run before the common ones.
    """

    columns: dict[str, pa.Array]
    identity: list[pa.Array]
    time_text: pa.Array  # the record's time as written (string), for details
    time_field: str
    ip_field: str
    checks: list[Check] = field(default_factory=list)


def build(
    fmt: str,
    block: LineBlock,
    decoded: Decoded,
    found: Extracted,
    source_file: str,
    ingested_at: datetime,
) -> ParseResult:
    """Validate ``found``, give each event its id, and dead-letter what cannot be one."""
    n = len(decoded.kept)
    cols = found.columns
    ip_text = cols["client_ip"]
    client_ip, ip_ok = normalize_ips(ip_text)
    event_time = cols["event_time"]
    status = cols.get("status_code", pa.nulls(n, pa.int64()))
    status_ok = pc.fill_null(pc.and_(pc.greater_equal(status, 100), pc.less(status, 600)), True)
    tt, tf, ipf = found.time_text, found.time_field, found.ip_field

    def show(arr: pa.Array, i: int) -> str:
        return repr(arr[i].as_py())

    latest = latest_event_time(ingested_at).isoformat().replace("+00:00", "Z")
    checks: list[Check] = [
        *found.checks,
        (
            pc.is_valid(tt),
            DeadLetterReason.MISSING_FIELD,
            lambda i: f"required field {tf!r} is missing or null",
        ),
        (
            pc.is_valid(event_time),
            DeadLetterReason.INVALID_TIMESTAMP,
            lambda i: f"{tf} {show(tt, i)} is not a time this format writes",
        ),
        (
            in_event_window(event_time, ingested_at),
            DeadLetterReason.OUT_OF_RANGE,
            lambda i: (
                f"{tf} {show(tt, i)} is outside the accepted event times, "
                f"1970-01-01T00:00:00Z to {latest} (one day after ingestion): a WAF clock error?"
            ),
        ),
        (
            pc.is_valid(ip_text),
            DeadLetterReason.MISSING_FIELD,
            lambda i: f"required field {ipf!r} is missing or null",
        ),
        (
            ip_ok,
            DeadLetterReason.INVALID_IP,
            lambda i: f"{ipf} {show(ip_text, i)} is not an IP address",
        ),
        (
            status_ok,
            DeadLetterReason.INVALID_VALUE,
            lambda i: f"status {show(status, i)} is not 100-599",
        ),
    ]
    masks = [pc.fill_null(m, False) for m, _, _ in checks]
    valid = masks[0]
    for mask in masks[1:]:
        valid = pc.and_(valid, mask)

    bad = {r.index: r for r in decoded.rejected}
    fails: dict[int, tuple[str, str]] = {}
    if n and not pc.all(valid).as_py():
        rows = pc.indices_nonzero(pc.invert(valid)).to_pylist()
        passed = [m.take(pa.array(rows, pa.int64())).to_pylist() for m in masks]
        for k, row in enumerate(rows):
            failed = next(c for c, ok in enumerate(passed) if not ok[k])
            _, reason, detail = checks[failed]
            fails[decoded.kept[row]] = (str(reason), detail(row))

    keep = pc.indices_nonzero(valid)
    m = len(keep)

    def kept(col: pa.Array) -> pa.Array:
        return col if m == n else pc.take(col, keep)  # the usual case: every row valid

    ids = event_ids(fmt, [kept(f) for f in found.identity])
    events: dict[str, pa.Array] = {name: kept(col) for name, col in cols.items()}
    events["client_ip"] = kept(client_ip)
    events.update(
        {
            "event_id": ids,
            "source_format": constant(fmt, m, pa.string()),
            "source_file": constant(source_file, m, pa.string()),
            "source_offset": pa.array(
                [block.offsets[decoded.kept[i]] for i in keep.to_pylist()], pa.int64()
            ),
            "ingested_at": constant(ingested_at, m, LAKE_EVENT_SCHEMA.field("ingested_at").type),
            "raw": kept(decoded.raw),
        }
    )
    table = pa.table(complete_columns(events, m)).select(LAKE_EVENT_SCHEMA.names)
    altered: dict[str, int] = {}
    if decoded.escaped_nul:
        table, nul_rows = replace_nul(table, TEXT_FIELDS)
        if nul_rows:
            altered["nul_replaced"] = nul_rows
    table = table.cast(LAKE_EVENT_SCHEMA)

    order = sorted([*bad, *fails])

    def kept_text(i: int) -> bytes:
        cut = bad[i].kept if i in bad else None
        return block.lines[i] if cut is None else cut

    lines = [kept_text(i) for i in order]
    dead = dead_letter_table(
        source_format=fmt,
        source_file=source_file,
        offsets=[block.offsets[i] for i in order],
        lines=lines,
        reasons=[str(bad[i].reason) if i in bad else fails[i][0] for i in order],
        details=[bad[i].detail if i in bad else fails[i][1] for i in order],
        ingested_at=ingested_at,
        identities=[
            b"blake2b:" + (bad[i].digest or "").encode()
            if i in bad and bad[i].kept is not None
            else line
            for i, line in zip(order, lines, strict=True)
        ],
    )
    return ParseResult(table, dead, len(block.lines), altered)


def concat_parts(parts: list[dict[str, pa.Array]]) -> dict[str, pa.Array]:
    """One column per name across the extractions of the decoded variants."""
    if len(parts) == 1:
        return parts[0]
    return {name: pa.concat_arrays([p[name] for p in parts]) for name in parts[0]}
