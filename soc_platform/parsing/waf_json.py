"""The seed WAF format: one flat JSON object per line.

Fields: ``timestamp`` (RFC 3339), ``client_ip``, ``host``, ``request_method``,
``request_uri``, ``status_code``, ``user_agent``, ``rule_id``, ``rule_msg``, ``rule_tags``
(list) and, when the WAF reports it, ``action``. A WAF that logs every request also emits
events that matched no rule: ``rule_id`` 0 or absent, ``rule_msg`` empty.
"""

from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from soc_platform.models import LAKE_EVENT_SCHEMA, Action, DeadLetterReason
from soc_platform.parsing.arrowkit import constant, gather_lists
from soc_platform.parsing.base import DEFAULT_MAX_LINE_BYTES, ParseResult, latest_event_time
from soc_platform.parsing.canonical import complete_columns
from soc_platform.parsing.common import (
    dead_letter_table,
    event_ids,
    in_event_window,
    normalize_ips,
    parse_timestamps,
    replace_nul,
)
from soc_platform.parsing.jsonl import LineBlock, read_json_rows

FORMAT = "waf_json"
VENDOR, PRODUCT = "seed", "seed WAF JSON"

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


def parse(
    block: LineBlock,
    source_file: str,
    ingested_at: datetime,
    *,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> ParseResult:
    """Parse one block of seed-format lines into canonical events and dead letters."""
    decoded = read_json_rows(block, INPUT_SCHEMA, REQUIRED, max_line_bytes=max_line_bytes)
    table, kept, rejected = decoded.table, decoded.kept, decoded.rejected
    bad_idx = [r.index for r in rejected]
    bad_reason = [str(r.reason) for r in rejected]
    bad_detail = [r.detail for r in rejected]
    bad_kept = {r.index: (r.kept, r.digest or "") for r in rejected if r.kept is not None}

    event_time, ts_ok = parse_timestamps(table["timestamp"].combine_chunks())
    in_window = in_event_window(event_time, ingested_at)
    client_ip, ip_ok = normalize_ips(table["client_ip"].combine_chunks())
    status = table["status_code"].combine_chunks()
    status_ok = pc.fill_null(pc.and_(pc.greater_equal(status, 100), pc.less(status, 600)), True)

    # each check in the order a dead letter reports them: the first failing one names it
    checks: list[tuple[pa.Array, DeadLetterReason]] = [
        (pc.is_valid(table[name].combine_chunks()), DeadLetterReason.MISSING_FIELD)
        for name in REQUIRED
    ]
    checks += [
        (ts_ok, DeadLetterReason.INVALID_TIMESTAMP),
        (in_window, DeadLetterReason.OUT_OF_RANGE),
        (ip_ok, DeadLetterReason.INVALID_IP),
        (status_ok, DeadLetterReason.INVALID_VALUE),
    ]
    valid = checks[0][0]
    for mask, _ in checks[1:]:
        valid = pc.and_(valid, mask)

    if not pc.all(valid).as_py() and table.num_rows:
        invalid_rows = pc.indices_nonzero(pc.invert(valid))
        rows = table.take(invalid_rows).to_pylist()
        passed = [mask.take(invalid_rows).to_pylist() for mask, _ in checks]
        for k, (row_no, row) in enumerate(zip(invalid_rows.to_pylist(), rows, strict=True)):
            failed = next(n for n, ok in enumerate(passed) if not ok[k])
            reason = checks[failed][1]
            bad_idx.append(kept[row_no])
            bad_reason.append(str(reason))
            bad_detail.append(_detail(reason, failed, row, ingested_at))

    keep = pc.indices_nonzero(valid)
    good = table.take(keep)
    keep_rows = keep.to_pylist()
    good_offsets = [block.offsets[kept[i]] for i in keep_rows]

    rule_raw = good["rule_id"].combine_chunks()
    rule_matched = pc.fill_null(pc.not_equal(rule_raw, 0), False)
    # What "the same event" means: these fields, whatever the line's bytes (README, "How a
    # micro-batch flows"). Host, method and the action word count as the WAF wrote them.
    ids = event_ids(
        FORMAT,
        [
            event_time.take(keep),
            client_ip.take(keep),
            good["host"],
            good["request_method"],
            good["request_uri"],
            good["status_code"],
            good["user_agent"],
            pc.if_else(rule_matched, rule_raw, pa.scalar(None, pa.int64())),
            pc.fill_null(good["rule_msg"], ""),
            pc.fill_null(good["rule_tags"].combine_chunks(), pa.scalar([], pa.list_(pa.string()))),
            good["action"],
        ],
    )
    altered: dict[str, int] = {}
    if decoded.escaped_nul:
        good, nul_rows = replace_nul(good, _TEXT_FIELDS)
        if nul_rows:
            altered["nul_replaced"] = nul_rows

    rule_id = pc.if_else(rule_matched, pc.cast(rule_raw, pa.string()), None)
    status_good = pc.cast(good["status_code"].combine_chunks(), pa.int32())
    n = good.num_rows

    rule_names = pc.if_else(rule_matched, pc.fill_null(good["rule_msg"], ""), None)
    columns: dict[str, pa.Array] = {
        "event_id": ids,
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
        # the canonical event's columns (url_path/url_query split from request_uri)
        "observer_vendor": constant(VENDOR, n, pa.string()),
        "observer_product": constant(PRODUCT, n, pa.string()),
        "rule_ids": gather_lists(n, [(np.arange(n), rule_id)]),
        "rule_names": gather_lists(n, [(np.arange(n), rule_names)]),
    }
    events = pa.table(complete_columns(columns, n)).select(LAKE_EVENT_SCHEMA.names)
    events = events.cast(LAKE_EVENT_SCHEMA)

    order = sorted(range(len(bad_idx)), key=bad_idx.__getitem__)
    lines = [
        bad_kept[bad_idx[i]][0] if bad_idx[i] in bad_kept else block.lines[bad_idx[i]]
        for i in order
    ]
    dead = dead_letter_table(
        source_format=FORMAT,
        source_file=source_file,
        offsets=[block.offsets[bad_idx[i]] for i in order],
        lines=lines,
        reasons=[bad_reason[i] for i in order],
        details=[bad_detail[i] for i in order],
        ingested_at=ingested_at,
        # a too-large line keeps only its start: its id is its whole line's digest
        identities=[
            b"blake2b:" + bad_kept[bad_idx[i]][1].encode() if bad_idx[i] in bad_kept else line
            for i, line in zip(order, lines, strict=True)
        ],
    )
    return ParseResult(
        events=events,
        dead_letters=dead,
        lines_read=len(block.lines),
        events_altered=altered,
    )


#: String fields whose NUL characters become U+FFFD (PostgreSQL text cannot hold NUL).
_TEXT_FIELDS = ("host", "request_method", "request_uri", "user_agent", "rule_msg", "rule_tags")


def _detail(
    reason: DeadLetterReason, check: int, row: dict[str, object], ingested_at: datetime
) -> str:
    if reason is DeadLetterReason.MISSING_FIELD:
        return f"required field {REQUIRED[check]!r} is missing or null"
    ts = row["timestamp"]
    if reason is DeadLetterReason.INVALID_TIMESTAMP:
        return f"timestamp {ts!r} is not an RFC 3339 date-time with a zone"
    if reason is DeadLetterReason.OUT_OF_RANGE:
        latest = latest_event_time(ingested_at).isoformat().replace("+00:00", "Z")
        return (
            f"timestamp {ts!r} is outside the accepted event times, 1970-01-01T00:00:00Z to "
            f"{latest} (one day after ingestion): a WAF clock error?"
        )
    if reason is DeadLetterReason.INVALID_IP:
        return f"client_ip {row['client_ip']!r} is not an IP address"
    return f"status_code {row['status_code']!r} is not 100-599"
