"""Cloudflare Logpush ``firewall_events`` records (one JSON object each).

``Datetime`` follows the Logpush job's ``timestamp_format``: RFC 3339 text, Unix seconds
or Unix nanoseconds (the API's default); its form is read per value. ``Action`` is not
validated against a list (new words appear; Panther's samples hold ``skip``).
``ClientRequestQuery`` includes its leading ``?`` (most jobs) or not. ``ClientCountry``
is lower-case ISO 3166-1 alpha-2, stored upper-case. Panther's test-log wrapper
``{"_source", "_test", "log": {...}}`` is accepted; a wrapped record of another log type
is a dead letter ``unknown_format``.
"""

from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from soc_platform.models import Action, DeadLetterReason
from soc_platform.parsing.arrowkit import (
    constant,
    epoch_micros,
    gather_lists,
    join_uri,
    nonempty,
)
from soc_platform.parsing.base import DEFAULT_MAX_LINE_BYTES, ParseResult
from soc_platform.parsing.canonical import Extracted, build, concat_parts
from soc_platform.parsing.common import parse_timestamps
from soc_platform.parsing.decode import decode_records
from soc_platform.parsing.lines import LineBlock

FORMAT = "cloudflare"
VENDOR, PRODUCT = "Cloudflare", "Cloudflare WAF"

_TEXT = (
    "ClientIP", "ClientRequestHost", "ClientRequestPath", "ClientRequestQuery",
    "ClientRequestMethod", "ClientRequestUserAgent", "Action", "RuleID", "Source",
    "ClientCountry", "ClientASNDescription", "RayID", "Kind", "Description",
)  # fmt: skip
_INTS = ("EdgeResponseStatus", "ClientASN", "MatchIndex")


def _fields(datetime_kind: pa.DataType) -> list[tuple[str, pa.DataType]]:
    return [
        *((name, pa.string()) for name in _TEXT),
        *((name, pa.int64()) for name in _INTS),
        ("Datetime", datetime_kind),
    ]


def _schema(datetime_kind: pa.DataType) -> pa.Schema:
    inner = _fields(datetime_kind)
    return pa.schema([*inner, ("log", pa.struct([*inner, ("p_log_type", pa.string())]))])


#: Variants: ``Datetime`` as text (rfc3339), then as a number (unix, unixnano).
VARIANTS = [_schema(pa.string()), _schema(pa.int64())]

_BLOCKED = (
    "block", "connectionclose", "challenge", "jschallenge", "managedchallenge", "drop",
)  # fmt: skip
_ALLOWED = (
    "allow", "bypass", "skip", "challengesolved", "challengebypassed", "jschallengesolved",
    "jschallengebypassed", "managedchallengebypassed", "managedchallengenoninteractivesolved",
    "managedchallengeinteractivesolved",
)  # fmt: skip
ACTIONS = {
    **dict.fromkeys(_BLOCKED, Action.BLOCKED),
    **dict.fromkeys(_ALLOWED, Action.ALLOWED),
    "log": Action.DETECTED,
}
_MARKERS = ("RayID", "ClientIP", "ClientRequestHost")


def looks_like(record: dict[str, Any]) -> bool:
    """True for a Cloudflare firewall event (bare or in Panther's wrapper)."""
    inner = record.get("log") if isinstance(record.get("log"), dict) else record
    assert isinstance(inner, dict)
    return inner.get("Kind") == "firewall" or (
        "ClientIP" in inner and ("RayID" in inner or "Action" in inner)
    )


def _times(values: pa.Array) -> pa.Array:
    """``Datetime`` in any of its encodings to UTC timestamps (null where unreadable)."""
    if pa.types.is_integer(values.type):
        # the magnitude tells the unit: s ~1e9, ms ~1e12, us ~1e15, ns ~1e18
        size = pc.abs(values)
        return pc.if_else(
            pc.greater_equal(size, 10**17),
            epoch_micros(values, 10**9),
            pc.if_else(
                pc.greater_equal(size, 10**14),
                epoch_micros(values, 10**6),
                pc.if_else(
                    pc.greater_equal(size, 10**11),
                    epoch_micros(values, 1000),
                    epoch_micros(values, 1),
                ),
            ),
        )
    # RFC 3339; Panther's normalised form has no zone (it is UTC)
    zoneless = pc.fill_null(
        pc.match_substring_regex(values, r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?$"),
        False,
    )
    text = pc.if_else(zoneless, pc.binary_join_element_wise(values, "Z", ""), values)
    parsed, _ = parse_timestamps(text)
    return parsed


def _extract(table: pa.Table) -> dict[str, pa.Array]:
    n = table.num_rows
    log = table["log"].combine_chunks()

    def get(name: str) -> pa.Array:
        return pc.coalesce(table[name].combine_chunks(), pc.struct_field(log, name))

    stamp = get("Datetime")
    path = get("ClientRequestPath")
    query = nonempty(pc.replace_substring_regex(get("ClientRequestQuery"), r"^\?", ""))
    word = pc.utf8_lower(get("Action"))
    mapped = pc.take(
        pa.array([str(a) for a in ACTIONS.values()], pa.string()),
        pc.index_in(word, value_set=pa.array(list(ACTIONS), pa.string())),
    )
    rule = nonempty(get("RuleID"))
    rows = np.arange(n, dtype=np.int64)
    description = nonempty(get("Description"))
    marker = pc.is_valid(get(_MARKERS[0]))
    for name in _MARKERS[1:]:
        marker = pc.or_(marker, pc.is_valid(get(name)))
    kind = get("Kind")
    firewall = pc.and_(pc.fill_null(pc.equal(kind, "firewall"), True), marker)
    return {
        "event_time": _times(stamp),
        "client_ip": get("ClientIP"),
        "host": get("ClientRequestHost"),
        "request_method": get("ClientRequestMethod"),
        "request_uri": join_uri(path, query),
        "url_path": path,
        "url_query": query,
        "status_code": get("EdgeResponseStatus"),  # int64 until validated (100-599)
        "user_agent": get("ClientRequestUserAgent"),
        "rule_id": rule,
        "rule_msg": pc.fill_null(pc.coalesce(description, rule), ""),
        "rule_tags": gather_lists(n, [(rows, get("Source"))]),
        "rule_ids": gather_lists(n, [(rows, rule)]),
        "rule_names": gather_lists(n, [(rows, pc.coalesce(description, rule))]),
        "request_id": get("RayID"),
        "source_country": pc.utf8_upper(nonempty(get("ClientCountry"), "xx", "t1")),
        "source_as_number": get("ClientASN"),
        "source_as_org": nonempty(get("ClientASNDescription")),
        # an unknown word: a rule fired and Cloudflare did something we do not know
        "action": pc.fill_null(mapped, str(Action.DETECTED)),
        "observer_vendor": constant(VENDOR, n, pa.string()),
        "observer_product": constant(PRODUCT, n, pa.string()),
        "_time_text": pc.cast(stamp, pa.string()),
        "_firewall": firewall,
        "_log_type": pc.coalesce(pc.struct_field(log, "p_log_type"), kind),
        "_action_word": get("Action"),
        "_match_index": get("MatchIndex"),
        "_source": get("Source"),
    }


def parse(
    block: LineBlock,
    source_file: str,
    ingested_at: datetime,
    *,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> ParseResult:
    """Parse Cloudflare firewall events into canonical events and dead letters."""
    decoded = decode_records(block, VARIANTS, max_line_bytes=max_line_bytes)
    extracted = [_extract(t) for _, t in decoded.parts]
    cols = concat_parts(extracted)
    time_text = cols.pop("_time_text")
    firewall = cols.pop("_firewall")
    log_type = cols.pop("_log_type")
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
            "rule_id",
            "request_id",
        )
    ] + [cols.pop(name) for name in ("_action_word", "_match_index", "_source")]
    found = Extracted(cols, identity, time_text, "Datetime", "ClientIP")
    found.checks.append(
        (
            firewall,
            DeadLetterReason.UNKNOWN_FORMAT,
            lambda i: (
                "not a Cloudflare firewall event (log type "
                f"{log_type[i].as_py() or 'unknown'!r}); tried: {FORMAT}"
            ),
        )
    )
    return build(FORMAT, block, decoded, found, source_file, ingested_at)
