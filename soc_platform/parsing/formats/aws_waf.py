"""AWS WAF v2 logs, as delivered to S3, CloudWatch Logs or Firehose (one JSON record each).

Field reference: the AWS WAF developer guide, "Log fields for web ACL traffic". Times are
epoch milliseconds (UTC). ``action`` is the terminating action (ALLOW, BLOCK, CAPTCHA,
CHALLENGE); COUNT (and CAPTCHA/CHALLENGE with a valid token) only appear on
non-terminating matches. Header names keep the client's case; Host and User-Agent are
found whatever their case.
"""

from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from soc_platform.models import Action
from soc_platform.parsing.arrowkit import (
    constant,
    epoch_micros,
    flat_with_parents,
    gather_lists,
    header_values,
    join_uri,
    nonempty,
)
from soc_platform.parsing.base import DEFAULT_MAX_LINE_BYTES, ParseResult
from soc_platform.parsing.canonical import Extracted, build, concat_parts
from soc_platform.parsing.decode import decode_records
from soc_platform.parsing.lines import LineBlock

FORMAT = "aws_waf"
VENDOR, PRODUCT = "AWS", "AWS WAF"

#: ``terminatingRuleMatchDetails`` / ``ruleMatchDetails``: what a SQL injection or XSS match
#: statement found (``conditionType`` SQL_INJECTION or XSS)
_MATCH_DETAILS = pa.list_(pa.struct([("conditionType", pa.string())]))
_RULE = pa.struct(
    [
        ("ruleId", pa.string()),
        ("action", pa.string()),
        ("overriddenAction", pa.string()),
        ("ruleMatchDetails", _MATCH_DETAILS),
    ]
)
_HEADER = pa.struct([("name", pa.string()), ("value", pa.string())])
INPUT_SCHEMA = pa.schema(
    [
        ("timestamp", pa.int64()),
        ("webaclId", pa.string()),
        ("terminatingRuleId", pa.string()),
        ("terminatingRuleType", pa.string()),
        ("terminatingRuleMatchDetails", _MATCH_DETAILS),
        ("action", pa.string()),
        ("httpSourceName", pa.string()),
        (
            "ruleGroupList",
            pa.list_(
                pa.struct(
                    [
                        ("ruleGroupId", pa.string()),
                        ("terminatingRule", _RULE),
                        ("nonTerminatingMatchingRules", pa.list_(_RULE)),
                        (
                            "excludedRules",
                            pa.list_(
                                pa.struct([("exclusionType", pa.string()), ("ruleId", pa.string())])
                            ),
                        ),
                    ]
                )
            ),
        ),
        ("rateBasedRuleList", pa.list_(pa.struct([("rateBasedRuleId", pa.string())]))),
        ("nonTerminatingMatchingRules", pa.list_(_RULE)),
        ("labels", pa.list_(pa.struct([("name", pa.string())]))),
        ("responseCodeSent", pa.int64()),
        (
            "httpRequest",
            pa.struct(
                [
                    ("clientIp", pa.string()),
                    ("country", pa.string()),
                    ("headers", pa.list_(_HEADER)),
                    ("uri", pa.string()),
                    ("args", pa.string()),
                    ("httpVersion", pa.string()),
                    ("httpMethod", pa.string()),
                    ("requestId", pa.string()),
                ]
            ),
        ),
    ]
)

#: The terminating action -> ours. ALLOW is "allowed" unless a rule counted the request.
ACTIONS = {
    "BLOCK": Action.BLOCKED,
    "CAPTCHA": Action.BLOCKED,  # terminating: the client got a puzzle, not the origin
    "CHALLENGE": Action.BLOCKED,  # terminating: the client got a silent challenge
    "COUNT": Action.DETECTED,
    "ALLOW": Action.ALLOWED,
}


#: The attack class of an AWS WAF match, as the OWASP CRS tag the built-in event rules look
#: for in ``rule_tags`` (``attack-sqli``...), so AWS WAF events meet the same rules as
#: ModSecurity/Coraza ones. From two documented sources: the ``conditionType`` of a SQL
#: injection or XSS match statement, and the AWS Managed Rules' rule names and labels
#: (``SQLi_QUERYARGUMENTS`` / ``awswaf:managed:aws:sql-database:SQLi_QueryArguments``,
#: ``CrossSiteScripting_BODY``, ``GenericLFI_URIPATH``, ``Log4JRCE_HEADER``...; AWS WAF
#: developer guide, "AWS Managed Rules rule groups list").
CONDITION_TAGS = {"SQL_INJECTION": "attack-sqli", "XSS": "attack-xss"}
MANAGED_TAGS = (
    ("attack-sqli", r"(^|:)SQLi(ExtendedPatterns)?_"),
    ("attack-xss", r"(^|:)CrossSiteScripting_"),
    ("attack-lfi", r"(^|:)(Generic)?LFI_"),
    ("attack-rfi", r"(^|:)GenericRFI_"),
    (
        "attack-rce",
        r"(^|:)(Log4JRCE|JavaDeserializationRCE|UNIXShellCommandsVariables|"
        r"WindowsShellCommands|PowerShellCommands)",
    ),
)


def _attack_tags(
    names: list[tuple[np.ndarray, pa.Array]], conditions: list[tuple[np.ndarray, pa.Array]]
) -> list[tuple[np.ndarray, pa.Array]]:
    """(row, tag) pieces for :func:`gather_lists`: rule names and labels matching a managed
    rule of an attack class, and match statements' condition types."""
    out: list[tuple[np.ndarray, pa.Array]] = []
    for parents, values in names:
        for tag, pattern in MANAGED_TAGS:
            hit = pc.fill_null(pc.match_substring_regex(values, pattern), False)
            rows = parents[hit.to_numpy(zero_copy_only=False)]
            out.append((rows, constant(tag, len(rows), pa.string())))
    for parents, values in conditions:
        tags = pc.take(
            pa.array(list(CONDITION_TAGS.values()), pa.string()),
            pc.index_in(pc.utf8_upper(values), value_set=pa.array(list(CONDITION_TAGS))),
        )
        out.append((parents, tags))
    return out


def looks_like(record: dict[str, Any]) -> bool:
    """True for an AWS WAF log record."""
    return isinstance(record.get("httpRequest"), dict) and (
        "webaclId" in record or "terminatingRuleId" in record
    )


def _extract(table: pa.Table) -> dict[str, pa.Array]:
    n = table.num_rows
    col = {name: table[name].combine_chunks() for name in table.column_names}
    req = col["httpRequest"]
    ip = pc.struct_field(req, "clientIp")
    headers = pc.struct_field(req, "headers")
    path = pc.struct_field(req, "uri")
    args = pc.struct_field(req, "args")

    # every matched rule: the terminating one, then each rule group's terminating,
    # counted and excluded rules, then the web ACL's counted rules (AWS's own order)
    term = nonempty(col["terminatingRuleId"], "Default_Action")
    groups, gparents = flat_with_parents(col["ruleGroupList"])
    g_term = pc.struct_field(pc.struct_field(groups, "terminatingRule"), "ruleId")
    g_non, g_non_parents = flat_with_parents(
        pc.struct_field(groups, "nonTerminatingMatchingRules"), gparents
    )
    # excluded rules are rule-group rules set to count (AWS lists them when they match)
    g_ex, g_ex_parents = flat_with_parents(pc.struct_field(groups, "excludedRules"), gparents)
    top_non, top_parents = flat_with_parents(col["nonTerminatingMatchingRules"])
    rows = np.arange(n, dtype=np.int64)
    rule_ids = gather_lists(
        n,
        [
            (rows, term),
            (gparents, g_term),
            (g_non_parents, pc.struct_field(g_non, "ruleId")),
            (g_ex_parents, pc.struct_field(g_ex, "ruleId")),
            (top_parents, pc.struct_field(top_non, "ruleId")),
        ],
        distinct=True,
    )
    label_flat, label_parents = flat_with_parents(col["labels"])
    label_names = pc.struct_field(label_flat, "name")
    labels = gather_lists(n, [(label_parents, label_names)])
    # the condition types of every match statement that matched: the terminating rule's,
    # and each counted or rule-group rule's
    conditions = [flat_with_parents(col["terminatingRuleMatchDetails"])]
    for parents, rules in (
        (gparents, pc.struct_field(groups, "terminatingRule")),
        (g_non_parents, g_non),
        (top_parents, top_non),
    ):
        conditions.append(flat_with_parents(pc.struct_field(rules, "ruleMatchDetails"), parents))
    attack_tags = _attack_tags(
        [
            (label_parents, label_names),
            (gparents, g_term),
            (g_non_parents, pc.struct_field(g_non, "ruleId")),
            (top_parents, pc.struct_field(top_non, "ruleId")),
        ],
        [(p, pc.struct_field(d, "conditionType")) for d, p in conditions],
    )
    rule_tags = gather_lists(n, [(label_parents, label_names), *attack_tags], distinct=True)
    counted = pc.greater(pc.list_value_length(rule_ids), 0)

    word = pc.utf8_upper(pc.fill_null(col["action"], ""))
    mapped = pc.take(
        pa.array([str(a) for a in ACTIONS.values()], pa.string()),
        pc.index_in(word, value_set=pa.array(list(ACTIONS), pa.string())),
    )
    # ALLOW with rules that only counted: detected; an unknown word: detected
    mapped = pc.fill_null(mapped, str(Action.DETECTED))
    action = pc.if_else(
        pc.and_(pc.equal(mapped, str(Action.ALLOWED)), pc.fill_null(counted, False)),
        str(Action.DETECTED),
        mapped,
    )
    first_rule = pc.list_element(pc.if_else(counted, rule_ids, pa.scalar(["-"], rule_ids.type)), 0)
    rule_id = pc.if_else(counted, first_rule, pa.scalar(None, pa.string()))
    country = nonempty(pc.struct_field(req, "country"), "-")
    status = col["responseCodeSent"]
    return {
        "event_time": epoch_micros(col["timestamp"], 1000),
        "client_ip": ip,
        "host": header_values(headers, "host"),
        "request_method": pc.struct_field(req, "httpMethod"),
        "request_uri": join_uri(path, args),
        "url_path": path,
        "url_query": nonempty(args),
        "status_code": status,  # int64 until validated (100-599)
        "user_agent": header_values(headers, "user-agent"),
        "rule_id": rule_id,
        "rule_msg": pc.fill_null(rule_id, ""),  # AWS logs carry no rule message
        # AWS WAF tags requests with labels; the attack class of a match is added as the
        # CRS tag (MANAGED_TAGS, CONDITION_TAGS)
        "rule_tags": rule_tags,
        "rule_ids": rule_ids,
        "rule_names": rule_ids,  # a rule's name is its id in AWS WAF
        "labels": labels,
        "request_id": nonempty(pc.struct_field(req, "requestId"), "null"),
        "source_country": pc.utf8_upper(country),
        "action": action,
        "observer_vendor": constant(VENDOR, n, pa.string()),
        "observer_product": constant(PRODUCT, n, pa.string()),
        # identity only
        "_webacl": col["webaclId"],
        "_action_word": col["action"],
        "_time_text": pc.cast(col["timestamp"], pa.string()),
    }


def parse(
    block: LineBlock,
    source_file: str,
    ingested_at: datetime,
    *,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> ParseResult:
    """Parse AWS WAF records into canonical events and dead letters."""
    decoded = decode_records(block, [INPUT_SCHEMA], max_line_bytes=max_line_bytes)
    cols = concat_parts([_extract(t) for _, t in decoded.parts])
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
            "labels",
            "request_id",
            "_webacl",
            "_action_word",
        )
    ]
    time_text = cols.pop("_time_text")
    for name in ("_webacl", "_action_word"):
        cols.pop(name)
    found = Extracted(cols, identity, time_text, "timestamp", "httpRequest.clientIp")
    return build(FORMAT, block, decoded, found, source_file, ingested_at)
