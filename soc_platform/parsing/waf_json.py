"""The seed WAF format: one flat JSON object per line.

Fields: ``timestamp`` (RFC 3339), ``client_ip``, ``host``, ``request_method``,
``request_uri``, ``status_code``, ``user_agent``, ``rule_id``, ``rule_msg``, ``rule_tags``
(list) and, when the WAF reports it, ``action``. A WAF that logs every request also emits
events that matched no rule: ``rule_id`` 0 or absent, ``rule_msg`` empty.
"""

from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc

from soc_platform.models import LAKE_EVENT_SCHEMA, Action, DeadLetterReason
from soc_platform.parsing.base import ParseResult
from soc_platform.parsing.common import (
    content_id,
    dead_letter_table,
    normalize_ips,
    parse_timestamps,
)
from soc_platform.parsing.jsonl import LineBlock, read_json_rows

FORMAT = "waf_json"

INPUT_SCHEMA = pa.schema(
    [
        ("timestamp", pa.string()),
        ("client_ip", pa.string()),
        ("host", pa.string()),
        ("request_method", pa.string()),
        ("request_uri", pa.string()),
        ("status_code", pa.int64()),
        ("user_agent", pa.string()),
        ("rule_id", pa.int64()),
        ("rule_msg", pa.string()),
        ("rule_tags", pa.list_(pa.string())),
        ("action", pa.string()),
    ]
)
REQUIRED = ("timestamp", "client_ip", "host", "request_method", "request_uri", "status_code")

# Normalise the WAF's own verdict words to ours.
_ACTION_WORDS = {
    "block": Action.BLOCKED,
    "blocked": Action.BLOCKED,
    "deny": Action.BLOCKED,
    "denied": Action.BLOCKED,
    "drop": Action.BLOCKED,
    "detect": Action.DETECTED,
    "detected": Action.DETECTED,
    "log": Action.DETECTED,
    "count": Action.DETECTED,
    "pass": Action.DETECTED,
    "allow": Action.ALLOWED,
    "allowed": Action.ALLOWED,
}


def derive_action(reported: pa.Array, rule_matched: pa.Array, status_code: pa.Array) -> pa.Array:
    """Verdict per event: the WAF's own word when it gives one, else from rule and status.

    A rule matched and the response was an error: blocked. A rule matched and the request
    went through: detected (detection-only mode). No rule matched: allowed.
    """
    words = pc.utf8_lower(pc.utf8_trim_whitespace(reported))
    keys = pa.array(list(_ACTION_WORDS), pa.string())
    mapped = pc.take(
        pa.array([str(v) for v in _ACTION_WORDS.values()], pa.string()),
        pc.index_in(words, value_set=keys),
    )
    inferred = pc.if_else(
        rule_matched,
        pc.if_else(pc.greater_equal(status_code, 400), str(Action.BLOCKED), str(Action.DETECTED)),
        str(Action.ALLOWED),
    )
    return pc.coalesce(mapped, inferred)


def parse(block: LineBlock, source_file: str, ingested_at: datetime) -> ParseResult:
    """Parse one block of seed-format lines into canonical events and dead letters."""
    decoded = read_json_rows(block, INPUT_SCHEMA, REQUIRED)
    table, kept, rejected = decoded.table, decoded.kept, decoded.rejected
    bad_idx = [r.index for r in rejected]
    bad_reason = [str(r.reason) for r in rejected]
    bad_detail = [r.detail for r in rejected]

    event_time, ts_ok = parse_timestamps(table["timestamp"].combine_chunks())
    client_ip, ip_ok = normalize_ips(table["client_ip"].combine_chunks())
    status = table["status_code"].combine_chunks()
    status_ok = pc.fill_null(pc.and_(pc.greater_equal(status, 100), pc.less(status, 600)), True)

    present = {name: pc.is_valid(table[name].combine_chunks()) for name in REQUIRED}
    valid = pc.and_(pc.and_(ts_ok, ip_ok), status_ok)
    for mask in present.values():
        valid = pc.and_(valid, mask)

    if not pc.all(valid).as_py() and table.num_rows:
        invalid_rows = pc.indices_nonzero(pc.invert(valid)).to_pylist()
        rows = table.take(invalid_rows).to_pylist()
        for row_no, row in zip(invalid_rows, rows, strict=True):
            reason, detail = _why_invalid(row)
            bad_idx.append(kept[row_no])
            bad_reason.append(str(reason))
            bad_detail.append(detail)

    keep = pc.indices_nonzero(valid)
    good = table.take(keep)
    keep_rows = keep.to_pylist()
    good_lines = [block.lines[kept[i]] for i in keep_rows]
    good_offsets = [block.offsets[kept[i]] for i in keep_rows]

    rule_raw = good["rule_id"].combine_chunks()
    rule_matched = pc.fill_null(pc.not_equal(rule_raw, 0), False)
    rule_id = pc.if_else(rule_matched, pc.cast(rule_raw, pa.string()), None)
    status_good = pc.cast(good["status_code"].combine_chunks(), pa.int32())
    n = good.num_rows

    events = pa.table(
        {
            "event_id": pa.array(content_id(good_lines), pa.string()),
            "event_time": event_time.take(keep),
            "client_ip": client_ip.take(keep),
            # as sent: Sigma's |cased and |re see the original; whoever needs a normal
            # form (grouping by host) makes it where it is used
            "host": good["host"],
            "request_method": good["request_method"],
            "request_uri": good["request_uri"],
            "status_code": status_good,
            "user_agent": good["user_agent"],
            "rule_id": rule_id,
            "rule_msg": pc.fill_null(good["rule_msg"], ""),
            "rule_tags": pc.fill_null(
                good["rule_tags"].combine_chunks(), pa.scalar([], pa.list_(pa.string()))
            ),
            "action": derive_action(good["action"].combine_chunks(), rule_matched, status_good),
            "source_format": pa.array([FORMAT] * n, pa.string()),
            "source_file": pa.array([source_file] * n, pa.string()),
            "source_offset": pa.array(good_offsets, pa.int64()),
            "ingested_at": pa.array([ingested_at] * n, LAKE_EVENT_SCHEMA.field("ingested_at").type),
            "raw": decoded.raw.take(keep),
        }
    ).cast(LAKE_EVENT_SCHEMA)

    order = sorted(range(len(bad_idx)), key=bad_idx.__getitem__)
    dead = dead_letter_table(
        source_format=FORMAT,
        source_file=source_file,
        offsets=[block.offsets[bad_idx[i]] for i in order],
        lines=[block.lines[bad_idx[i]] for i in order],
        reasons=[bad_reason[i] for i in order],
        details=[bad_detail[i] for i in order],
        ingested_at=ingested_at,
    )
    return ParseResult(events=events, dead_letters=dead, lines_read=len(block.lines))


def _why_invalid(row: dict[str, object]) -> tuple[DeadLetterReason, str]:
    for name in REQUIRED:
        if row.get(name) is None:
            return DeadLetterReason.MISSING_FIELD, f"required field {name!r} is missing or null"
    ts = row["timestamp"]
    _parsed, ok = parse_timestamps(pa.array([ts], pa.string()))
    if not ok[0].as_py():
        return DeadLetterReason.INVALID_TIMESTAMP, (
            f"timestamp {ts!r} is not an RFC 3339 instant with a zone, from 1970 on"
        )
    _, ip_ok = normalize_ips(pa.array([row["client_ip"]], pa.string()))
    if not ip_ok[0].as_py():
        return DeadLetterReason.INVALID_IP, f"client_ip {row['client_ip']!r} is not an IP address"
    return DeadLetterReason.INVALID_VALUE, f"status_code {row['status_code']!r} is not 100-599"
