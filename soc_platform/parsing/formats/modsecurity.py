"""ModSecurity v3 (libmodsecurity) and Coraza JSON audit logs: one record per transaction.

ModSecurity v3 writes ``{"transaction": {..., "messages": [{"message", "details":
{"ruleId", "tags", ...}}]}}`` with string details, ``time_stamp`` in C ``asctime`` form
(server local time, no zone: taken as UTC) and headers as JSON objects (a repeated header
is a repeated key). Coraza's native JSON puts ``messages`` beside ``transaction``, each
with ``data: {"id": int, "msg", "tags"}``, times as ``unix_timestamp`` (nanoseconds),
headers as lists, and says whether it interrupted the transaction (``is_interrupted``).
Neither writes the anomaly score as a field: it is read from the CRS evaluation rules'
messages ("Total Score: 15", "Inbound Scores: blocking=15").
"""

from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from soc_platform.models import Action, DeadLetterReason
from soc_platform.parsing.arrowkit import (
    constant,
    epoch_micros,
    flat_with_parents,
    gather_lists,
    split_uri,
)
from soc_platform.parsing.base import DEFAULT_MAX_LINE_BYTES, ParseResult
from soc_platform.parsing.canonical import Extracted, build, concat_parts
from soc_platform.parsing.decode import decode_records
from soc_platform.parsing.lines import LineBlock

FORMAT = "modsecurity"

#: Header spellings read for Host and User-Agent (JSON keys are matched exactly by Arrow;
#: these are the spellings clients and servers send).
HOST_KEYS = ("Host", "host", "HOST")
UA_KEYS = ("User-Agent", "user-agent", "User-agent", "USER-AGENT")


def _headers(kind: pa.DataType) -> pa.DataType:
    return pa.struct([(k, kind) for k in (*HOST_KEYS, *UA_KEYS)])


def _transaction(header_kind: pa.DataType, extra: list[tuple[str, pa.DataType]]) -> pa.DataType:
    return pa.struct(
        [
            ("client_ip", pa.string()),
            ("time_stamp", pa.string()),
            ("timestamp", pa.string()),
            ("unix_timestamp", pa.int64()),
            ("id", pa.string()),
            ("unique_id", pa.string()),
            ("is_interrupted", pa.bool_()),
            (
                "request",
                pa.struct(
                    [
                        ("method", pa.string()),
                        ("uri", pa.string()),
                        ("headers", _headers(header_kind)),
                    ]
                ),
            ),
            ("response", pa.struct([("http_code", pa.int64()), ("status", pa.int64())])),
            (
                "producer",
                pa.struct([("secrules_engine", pa.string()), ("rule_engine", pa.string())]),
            ),
            *extra,
        ]
    )


_V3_MESSAGES = pa.list_(
    pa.struct(
        [
            ("message", pa.string()),
            (
                "details",
                pa.struct(
                    [
                        ("ruleId", pa.string()),
                        ("data", pa.string()),
                        ("tags", pa.list_(pa.string())),
                    ]
                ),
            ),
        ]
    )
)
_CORAZA_MESSAGES = pa.list_(
    pa.struct(
        [
            ("message", pa.string()),
            (
                "data",
                pa.struct(
                    [("id", pa.int64()), ("msg", pa.string()), ("tags", pa.list_(pa.string()))]
                ),
            ),
        ]
    )
)
#: ModSecurity v3 (headers as strings, messages inside the transaction, string details).
V3_SCHEMA = pa.schema([("transaction", _transaction(pa.string(), [("messages", _V3_MESSAGES)]))])
#: Coraza native JSON (headers as lists, messages beside the transaction, int rule ids).
CORAZA_SCHEMA = pa.schema(
    [
        ("transaction", _transaction(pa.list_(pa.string()), [])),
        ("messages", _CORAZA_MESSAGES),
    ]
)

#: CRS rules whose message carries the inbound anomaly score (949110 blocking
#: evaluation, 980130/980170 reporting).
_BLOCKING = pa.array(["949110", "959100"], pa.string())
_SCORE = r"(?:Total (?:Inbound )?Score: |Inbound Scores: blocking=)(?P<score>\d{1,9})(?:\D|$)"


def looks_like(record: dict[str, Any]) -> bool:
    """True for a ModSecurity v3 or Coraza JSON audit record."""
    tx = record.get("transaction")
    return isinstance(tx, dict) and "client_ip" in tx


def _asctime(text: pa.Array) -> pa.Array:
    """C asctime (``Mon May  9 09:41:59 2022``; no zone, taken as UTC) to timestamps."""
    squeezed = pc.replace_substring_regex(text, r"\s+", " ")
    parsed = pc.strptime(squeezed, format="%a %b %d %H:%M:%S %Y", unit="us", error_is_null=True)
    return pc.assume_timezone(parsed, "UTC")


def _coraza_time(text: pa.Array) -> pa.Array:
    """Coraza's ``2006/01/02 15:04:05`` (no zone, taken as UTC) to timestamps."""
    parsed = pc.strptime(text, format="%Y/%m/%d %H:%M:%S", unit="us", error_is_null=True)
    return pc.assume_timezone(parsed, "UTC")


def _extract(variant: int, table: pa.Table) -> dict[str, pa.Array]:
    n = table.num_rows
    tx = table["transaction"].combine_chunks()
    req = pc.struct_field(tx, "request")
    heads = pc.struct_field(req, "headers")
    if variant == 0:
        messages = pc.struct_field(tx, "messages")
        flat, parents = flat_with_parents(messages)
        details = pc.struct_field(flat, "details")
        ids = pc.struct_field(details, "ruleId")
        tags = pc.struct_field(details, "tags")
        host = pc.coalesce(*(pc.struct_field(heads, k) for k in HOST_KEYS))
        agent = pc.coalesce(*(pc.struct_field(heads, k) for k in UA_KEYS))
    else:
        messages = table["messages"].combine_chunks()
        flat, parents = flat_with_parents(messages)
        details = pc.struct_field(flat, "data")
        ids = pc.cast(pc.struct_field(details, "id"), pa.string())
        tags = pc.struct_field(details, "tags")
        host = pc.coalesce(*(pc.list_element(pc.struct_field(heads, k), 0) for k in HOST_KEYS))
        agent = pc.coalesce(*(pc.list_element(pc.struct_field(heads, k), 0) for k in UA_KEYS))
    names = pc.struct_field(flat, "message")
    if variant == 1:
        names = pc.coalesce(names, pc.struct_field(details, "msg"))
    rule_ids = gather_lists(n, [(parents, ids)])
    rule_names = gather_lists(n, [(parents, names)])
    tag_flat, tag_parents = flat_with_parents(tags, parents)
    rule_tags = gather_lists(n, [(tag_parents, tag_flat)], distinct=True)
    scores = pc.struct_field(pc.extract_regex(names, _SCORE), "score")
    score_table = pa.table({"p": parents, "s": pc.cast(scores, pa.int32())})
    per_row = score_table.group_by("p").aggregate([("s", "max")])
    pos = pc.index_in(pa.array(range(n), pa.int64()), value_set=per_row["p"].combine_chunks())
    anomaly = pc.take(per_row["s_max"].combine_chunks(), pos)

    resp = pc.struct_field(tx, "response")
    status = pc.coalesce(pc.struct_field(resp, "http_code"), pc.struct_field(resp, "status"))
    producer = pc.struct_field(tx, "producer")
    engine = pc.utf8_lower(
        pc.coalesce(
            pc.struct_field(producer, "secrules_engine"),
            pc.struct_field(producer, "rule_engine"),
            pa.scalar("", pa.string()),
        )
    )
    matched = pc.greater(pc.list_value_length(rule_ids), 0)
    # Coraza says whether it interrupted; ModSecurity v3 does not: a matched rule and the
    # deny status 403, or a CRS blocking-evaluation rule, unless the engine only detects
    evaluation = gather_lists(
        n, [(parents, pc.if_else(pc.is_in(ids, value_set=_BLOCKING), ids, None))]
    )
    inferred = pc.and_(
        pc.and_(
            matched,
            pc.or_(
                pc.fill_null(pc.equal(status, 403), False),
                pc.greater(pc.list_value_length(evaluation), 0),
            ),
        ),
        pc.not_equal(engine, "detectiononly"),
    )
    blocked = pc.coalesce(pc.struct_field(tx, "is_interrupted"), inferred)
    action = pc.if_else(
        blocked, str(Action.BLOCKED), pc.if_else(matched, str(Action.DETECTED), str(Action.ALLOWED))
    )
    first_id = pc.list_element(pc.if_else(matched, rule_ids, pa.scalar([""], rule_ids.type)), 0)
    first_name = pc.list_element(
        pc.if_else(matched, rule_names, pa.scalar([""], rule_names.type)), 0
    )
    uri = pc.struct_field(req, "uri")
    path, query = split_uri(uri)
    stamp = pc.struct_field(tx, "time_stamp")
    coraza_text = pc.struct_field(tx, "timestamp")
    nanos = pc.struct_field(tx, "unix_timestamp")
    # nanoseconds; a few Coraza builds wrote microseconds (a 16-digit number)
    micro = pc.less(pc.abs(nanos), 10**17)
    event_time = pc.coalesce(
        pc.if_else(micro, epoch_micros(nanos, 10**6), epoch_micros(nanos, 10**9)),
        _asctime(stamp),
        _coraza_time(coraza_text),
    )
    vendor = "OWASP/ModSecurity" if variant == 0 else "Coraza"
    product = "ModSecurity" if variant == 0 else "Coraza WAF"
    return {
        "event_time": event_time,
        "client_ip": pc.struct_field(tx, "client_ip"),
        "host": host,
        "request_method": pc.struct_field(req, "method"),
        "request_uri": uri,
        "url_path": path,
        "url_query": query,
        "status_code": status,  # int64 until validated (100-599)
        "user_agent": agent,
        "rule_id": pc.if_else(matched, first_id, pa.scalar(None, pa.string())),
        "rule_msg": pc.fill_null(first_name, ""),
        "rule_tags": rule_tags,
        "rule_ids": rule_ids,
        "rule_names": rule_names,
        "request_id": pc.coalesce(pc.struct_field(tx, "unique_id"), pc.struct_field(tx, "id")),
        "anomaly_score": anomaly,
        "action": action,
        "observer_vendor": constant(vendor, n, pa.string()),
        "observer_product": constant(product, n, pa.string()),
        "_has_tx": pc.is_valid(tx),
        "_time_text": pc.coalesce(pc.cast(nanos, pa.string()), stamp, coraza_text),
    }


def parse(
    block: LineBlock,
    source_file: str,
    ingested_at: datetime,
    *,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> ParseResult:
    """Parse ModSecurity v3 / Coraza audit records into canonical events and dead letters."""
    decoded = decode_records(block, [V3_SCHEMA, CORAZA_SCHEMA], max_line_bytes=max_line_bytes)
    cols = concat_parts([_extract(v, t) for v, t in decoded.parts])
    time_text = cols.pop("_time_text")
    has_tx = cols.pop("_has_tx")
    identity = [
        cols[name]
        for name in (
            "event_time",
            "client_ip",
            "host",
            "request_method",
            "request_uri",
            "status_code",
            "user_agent",
            "rule_ids",
            "rule_names",
            "request_id",
            "action",
        )
    ]
    found = Extracted(cols, identity, time_text, "transaction.time_stamp", "transaction.client_ip")
    found.checks.append(
        (
            has_tx,
            DeadLetterReason.MISSING_FIELD,
            lambda i: "required field 'transaction' is missing",
        )
    )
    return build(FORMAT, block, decoded, found, source_file, ingested_at)
