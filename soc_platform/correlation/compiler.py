"""Sigma rules -> window queries over the hot table.

Every rule that raises incidents becomes a :class:`CompiledRule`: the predicates of the
detection rules it correlates (compiled by :class:`PostgresBackend` through the WAF
pipeline), how events are grouped, and the condition a group must meet within one window.
A Sigma correlation rule maps onto it directly; a detection rule that no correlation
references (or one referenced with ``generate: true``) raises incidents on its own, as an
``event_count >= 1`` per client IP.

Windows are sliding on event time, discretised: a window ``timespan`` wide starts every
``hop`` (aligned to the epoch), so a burst shorter than ``timespan - hop`` always lies whole
in one of them.
"""

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache, cached_property
from importlib import resources
from typing import Any

from sigma.correlations import (
    CorrelationConditionAND,
    CorrelationConditionNOT,
    CorrelationConditionOR,
    SigmaCorrelationCondition,
    SigmaCorrelationConditionOperator,
    SigmaCorrelationRule,
    SigmaCorrelationType,
    SigmaExtendedCorrelationCondition,
    SigmaRuleReference,
)
from sigma.exceptions import SigmaError, SigmaFeatureNotSupportedByBackendError
from sigma.rule import SigmaRule, SigmaRuleBase

from soc_platform.correlation.scoring import LEVELS
from soc_platform.correlation.sigma.backend import PostgresBackend

_OPS = {
    SigmaCorrelationConditionOperator.LT: "<",
    SigmaCorrelationConditionOperator.LTE: "<=",
    SigmaCorrelationConditionOperator.GT: ">",
    SigmaCorrelationConditionOperator.GTE: ">=",
    SigmaCorrelationConditionOperator.EQ: "=",
    SigmaCorrelationConditionOperator.NEQ: "<>",
}

#: Window width of a detection rule that raises incidents on its own.
DETECTION_TIMESPAN = timedelta(minutes=5)
#: At most this many windows start within one timespan (longer timespans hop further).
MAX_WINDOWS_PER_SPAN = 60


@dataclass(frozen=True)
class RuleRef:
    """One rule a compiled rule correlates: its predicate, and for a nested event_count
    correlation, how many of its events one window needs."""

    name: str
    predicate: str
    min_count: int = 1


@dataclass(frozen=True)
class CompiledRule:
    """A rule ready to run over windows of the hot table."""

    name: str  # the incident's rule id: the Sigma rule's name, else its id
    title: str
    kind: str  # event_count, value_count, value_sum, ..., temporal, temporal_ordered, detection
    level: str
    description: str
    refs: tuple[RuleRef, ...]
    group_fields: tuple[str, ...]  # Sigma field names, as the rule writes them
    group_key: str  # SQL: text key of an event's group
    value: str  # SQL: the condition's field (value_* types), else NULL
    op: str
    threshold: float
    having: str  # SQL condition on the window's aggregates
    timespan: timedelta
    hop: timedelta
    techniques: tuple[str, ...] = ()
    tactics: tuple[str, ...] = ()
    sigma_id: str = ""
    source: str = ""
    suppress_for: timedelta = timedelta(0)
    # temporal_ordered over more than two rules (or a nested count): the order is checked
    # exactly in Python on the window's event times (two rules: in SQL, see _correlation)
    ordered: bool = False
    ip_field: str | None = None  # the group field holding the client IP, if any
    # a condition every group that fires in some window meets over the whole evaluated span
    # (counts only grow with the span): groups failing it are dropped before the windows
    prefilter: str = "true"
    incident_type: str = ""  # Sigma custom attribute `incident_type` (e.g. sql_injection)
    noun: str = "matching requests"  # custom attribute `incident_noun`: "SQL injection attempts"

    @property
    def lookback(self) -> timedelta:
        """How far before "now" every micro-batch re-evaluates windows."""
        return min(2 * self.timespan, self.timespan + timedelta(hours=1))

    @property
    def predicate(self) -> str:
        return " OR ".join(f"({r.predicate})" for r in self.refs)

    def query(self, totals: bool = False, scanned: Sequence[str] | None = None) -> str:
        """The rule's window query (sql/rules/match_windows.sql: firing windows; with
        ``totals``, match_totals.sql: the incident of each run) with psycopg bind
        parameters; literal ``%`` of the compiled SQL are doubled for psycopg.

        With ``scanned``, the query reads the shared scan's table (:func:`scan_queries`)
        instead of ``waf_events``: the predicates of the rule's references are that table's
        columns ``scanned`` (one per reference, computed once per event for every rule of
        the scan), never evaluated again."""
        preds = [
            f"e.{scanned[i]}" if scanned is not None else f"({r.predicate})"
            for i, r in enumerate(self.refs)
        ]
        flags = ",\n        ".join(f"{p} AS m{i}" for i, p in enumerate(preds))
        ordered = (
            "jsonb_build_array("
            + ", ".join(
                f"to_jsonb(array_agg(extract(epoch FROM event_time) ORDER BY event_time) "
                f"FILTER (WHERE m{i}))"
                for i in range(len(self.refs))
            )
            + ")"
            if self.ordered
            else "NULL::jsonb"
        )
        fragments = {
            "predicate": self.predicate,
            "flags": flags,
            "group_key": self.group_key,
            "value": self.value,
            "having": self.having,
            "ordered_times": ordered,
            "prefilter": self.prefilter,
        }
        if scanned is not None:
            fragments["predicate"] = " OR ".join(preds)
        frame = _frame("match_totals" if totals else "match_windows")
        return frame.format(
            events=SCAN_TABLE if scanned is not None else "waf_events",
            **{k: v.replace("%", "%%") for k, v in fragments.items()},
        )

    @cached_property
    def version(self) -> str:
        """Changes whenever what the rule matches or how it groups and fires changes."""
        key = json.dumps(
            [
                self.query(),
                self.query(totals=True),
                self.timespan.total_seconds(),
                self.hop.total_seconds(),
                self.suppress_for.total_seconds(),
                self.level,
            ]
        )
        return hashlib.blake2b(key.encode(), digest_size=8).hexdigest()


#: The session's table of the shared scan (a temporary table: one per connection).
SCAN_TABLE = "pg_temp.correlation_scan"


@dataclass(frozen=True)
class ScanQueries:
    """The shared scan's statements (sql/rules/scan_create.sql, scan_fill.sql; ``fill``
    binds ``lo`` and ``hi``) and, per rule, its references' columns in the scan's table."""

    create: str
    fill: str
    columns: dict[str, tuple[str, ...]]  # rule name -> a column per reference


def scan_queries(rules: Sequence["CompiledRule"]) -> ScanQueries:
    """The shared scan of ``rules``: a table of the events of a time span matching any of
    them, every column of ``waf_events`` plus one boolean per distinct reference predicate
    (``p0``, ``p1``...), each predicate evaluated once per event."""
    predicates: dict[str, str] = {}  # predicate SQL -> column
    columns: dict[str, tuple[str, ...]] = {}
    for rule in rules:
        columns[rule.name] = tuple(
            predicates.setdefault(ref.predicate, f"p{len(predicates)}") for ref in rule.refs
        )
    flags = ",\n        ".join(f"coalesce(({p}), false) AS {c}" for p, c in predicates.items())
    fragments = {
        "table": SCAN_TABLE,
        "flags": flags.replace("%", "%%"),
        "any_rule": " OR ".join(predicates.values()),
    }
    return ScanQueries(
        _frame("scan_create").format(**fragments),
        _frame("scan_fill").format(**fragments),
        columns,
    )


@cache
def _frame(name: str) -> str:
    return resources.files("soc_platform").joinpath("sql", "rules", f"{name}.sql").read_text()


@dataclass(frozen=True)
class Tuning:
    """Per-deployment changes to one rule (correlation.config's overrides resolved)."""

    count: int | None = None
    timespan: timedelta | None = None
    hop: timedelta | None = None
    level: str | None = None
    suppress_for: timedelta | None = None


@dataclass
class Compiled:
    rules: list[CompiledRule] = field(default_factory=list)
    errors: list[tuple[SigmaRuleBase, str]] = field(default_factory=list)
    converted: set[int] = field(default_factory=set)  # id() of rules that compiled


def rule_name(rule: SigmaRuleBase) -> str:
    return str(rule.name or rule.id or rule.title)


def attack_tags(rule: SigmaRuleBase) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(techniques, tactics) from Sigma ``attack.*`` tags: ``attack.t1110.001`` ->
    ``T1110.001``, ``attack.initial_access`` -> ``initial-access``."""
    techniques: list[str] = []
    tactics: list[str] = []
    for tag in rule.tags or []:
        if tag.namespace != "attack":
            continue
        name = tag.name.lower()
        if name[:1] == "t" and name[1:2].isdigit():
            techniques.append(name.upper())
        elif not (name[:1] in "gs" and name[1:2].isdigit()):  # groups, software
            tactics.append(name.replace("_", "-"))
    return tuple(dict.fromkeys(techniques)), tuple(dict.fromkeys(tactics))


def hop_for(timespan: timedelta, hop: timedelta) -> timedelta:
    """The hop a timespan gets: the configured one, but at most a quarter of the timespan
    (whole seconds), so a burst up to three quarters of it always lies whole in a window,
    and long enough that at most MAX_WINDOWS_PER_SPAN windows start within it (whole
    minutes)."""
    hop = min(hop, max(timedelta(seconds=1), timedelta(seconds=timespan.total_seconds() // 4)))
    floor = timespan / MAX_WINDOWS_PER_SPAN
    if hop < floor:
        minutes = -(-floor // timedelta(minutes=1))  # ceil
        hop = timedelta(minutes=minutes)
    return hop


def compile_collection(
    collection: Iterable[SigmaRuleBase],
    backend: PostgresBackend,
    *,
    hop: timedelta = timedelta(minutes=1),
    tuning: dict[str, Tuning] | None = None,
    quiet: set[int] | None = None,
) -> Compiled:
    """Compile a resolved collection (referenced rules first, as
    ``SigmaCollection.resolve_rule_references`` orders them). Errors are collected per rule.

    ``quiet``: ``id()`` of rules that raise no incidents of their own (referenced by a
    correlation without ``generate``), in addition to those referenced within the
    collection."""
    tuning = tuning or {}
    out = Compiled()
    predicates: dict[int, str] = {}
    rules = list(collection)
    referenced_quietly: set[int] = set(quiet or ())
    for rule in rules:
        if isinstance(rule, SigmaCorrelationRule) and not rule.generate:
            referenced_quietly.update(id(r.rule) for r in _references(rule))
    for rule in rules:
        try:
            if isinstance(rule, SigmaRule):
                predicates[id(rule)] = _predicate(rule, backend)
                out.converted.add(id(rule))
                if id(rule) not in referenced_quietly:
                    out.rules.append(_standalone(rule, predicates[id(rule)], backend, hop, tuning))
            elif isinstance(rule, SigmaCorrelationRule):
                compiled = _correlation(rule, backend, predicates, hop, tuning)
                out.converted.add(id(rule))
                if id(rule) not in referenced_quietly:
                    out.rules.append(compiled)
        except (SigmaError, ValueError) as e:
            out.errors.append((rule, _message(e)))
    return out


def _message(e: Exception) -> str:
    text = str(e)
    return text.split(" (while ")[0] if text else type(e).__name__


def _predicate(rule: SigmaRule, backend: PostgresBackend) -> str:
    errors_before = len(backend.errors)
    queries = backend.convert_rule(rule, "predicate")
    if len(backend.errors) > errors_before:
        raise backend.errors.pop()[1]
    if not queries:
        queries = rule.get_conversion_result()
    if not queries:
        raise SigmaFeatureNotSupportedByBackendError("the rule compiled to no query")
    return " OR ".join(f"({q})" for q in queries) if len(queries) > 1 else str(queries[0])


def _level(rule: SigmaRuleBase, tune: Tuning) -> str:
    level = tune.level or (rule.level.name.lower() if rule.level else "medium")
    return level if level in LEVELS else "medium"


def _standalone(
    rule: SigmaRule,
    predicate: str,
    backend: PostgresBackend,
    hop: timedelta,
    tuning: dict[str, Tuning],
) -> CompiledRule:
    name = rule_name(rule)
    tune = tuning.get(name, Tuning())
    timespan = tune.timespan or DETECTION_TIMESPAN
    count = tune.count or 1
    techniques, tactics = attack_tags(rule)
    return CompiledRule(
        kind="detection",
        refs=(RuleRef(name, predicate),),
        group_fields=("c-ip",),
        group_key=f"coalesce({backend.text_of('client_ip')}, '')",
        value="NULL",
        op=">=",
        threshold=count,
        having=f"count(*) >= {count}",
        prefilter=f"count(*) >= {count}",
        techniques=techniques,
        tactics=tactics,
        **_common(rule, name, tune, timespan, hop),
        ip_field="c-ip",
    )


def _references(rule: SigmaCorrelationRule) -> list[SigmaRuleReference]:
    """The rules a correlation references, resolved: its ``rules``, or for an extended
    condition without that list, the rules the condition names (pySigma resolves those
    into ``referenced_rules``; references built here from the condition would have no
    rule)."""
    if rule.referenced_rules:
        return list(rule.referenced_rules)
    return list(rule.rules or [])


def _correlation(
    rule: SigmaCorrelationRule,
    backend: PostgresBackend,
    predicates: dict[int, str],
    hop: timedelta,
    tuning: dict[str, Tuning],
) -> CompiledRule:
    name = rule_name(rule)
    tune = tuning.get(name, Tuning())
    written_groups = list(rule.group_by or [])
    # the pipeline maps group-by fields, aliases and the condition's field reference
    backend.last_processing_pipeline.apply(rule)
    refs = [_ref(r, rule, predicates) for r in _references(rule)]
    if not refs:
        raise SigmaFeatureNotSupportedByBackendError("correlation rule references no rules")
    aliases = {a.alias: a for a in rule.aliases}
    group_sql: list[str] = []
    ip_field: str | None = None
    for written, mapped in zip(written_groups, rule.group_by or [], strict=True):
        if mapped in aliases:
            per_ref = {ref.reference: f for ref, f in aliases[mapped].mapping.items()}
            cases = " ".join(
                f"WHEN ({r.predicate}) THEN {backend.text_of(per_ref[r.name])}"
                for r in refs
                if r.name in per_ref
            )
            group_sql.append(f"CASE {cases} END")
        else:
            group_sql.append(backend.text_of(mapped))
            if mapped == "client_ip":
                ip_field = written
    if not group_sql:
        group_key = "''"
    elif len(group_sql) == 1:
        group_key = f"coalesce({group_sql[0]}, '')"
    else:
        group_key = "jsonb_build_array(" + ", ".join(group_sql) + ")::text"

    kind = rule.type.name.lower()
    in_python = False
    value = "NULL"
    op, threshold = ">=", 1.0
    having = ""
    prefilter = "true"
    cond = rule.condition
    if isinstance(cond, SigmaCorrelationCondition):
        op = _OPS[cond.op]
        threshold = float(tune.count if tune.count is not None else cond.count)
        number = _number(threshold)
    if rule.type == SigmaCorrelationType.EVENT_COUNT:
        having = f"count(*) {op} {number}"
        if op in (">=", ">"):
            prefilter = having
    elif rule.type in (
        SigmaCorrelationType.VALUE_COUNT,
        SigmaCorrelationType.VALUE_SUM,
        SigmaCorrelationType.VALUE_AVG,
        SigmaCorrelationType.VALUE_MEDIAN,
        SigmaCorrelationType.VALUE_PERCENTILE,
    ):
        assert isinstance(cond, SigmaCorrelationCondition) and cond.fieldref is not None
        fields = [cond.fieldref] if isinstance(cond.fieldref, str) else list(cond.fieldref)
        if rule.type == SigmaCorrelationType.VALUE_COUNT:
            texts = [backend.text_of(f) for f in fields]
            value = (
                texts[0] if len(texts) == 1 else "jsonb_build_array(" + ", ".join(texts) + ")::text"
            )
            having = f"count(DISTINCT val) {op} {number}"
            if op in (">=", ">"):
                prefilter = having
        else:
            if len(fields) != 1:
                raise SigmaFeatureNotSupportedByBackendError(f"{kind} takes exactly one field")
            value = backend.numeric_of(fields[0])
            aggregate = {
                SigmaCorrelationType.VALUE_SUM: "sum(val)",
                SigmaCorrelationType.VALUE_AVG: "avg(val)",
                SigmaCorrelationType.VALUE_MEDIAN: (
                    "percentile_cont(0.5) WITHIN GROUP (ORDER BY val)"
                ),
                SigmaCorrelationType.VALUE_PERCENTILE: (
                    f"percentile_cont({(cond.percentile or 50) / 100}) WITHIN GROUP (ORDER BY val)"
                ),
            }[rule.type]
            having = f"{aggregate} {op} {number}"
    elif rule.type in (SigmaCorrelationType.TEMPORAL, SigmaCorrelationType.TEMPORAL_ORDERED):
        terms = [_present(i, r) for i, r in enumerate(refs)]
        in_python = rule.type == SigmaCorrelationType.TEMPORAL_ORDERED
        if isinstance(cond, SigmaExtendedCorrelationCondition):
            index = {r.name: i for i, r in enumerate(refs)}
            having = _extended(cond.parsed, index, refs)
            if rule.type == SigmaCorrelationType.TEMPORAL_ORDERED:
                raise SigmaFeatureNotSupportedByBackendError(
                    "temporal_ordered with an extended condition: an order of a boolean "
                    "expression is not defined"
                )
        else:
            having = " AND ".join(terms)
            prefilter = having
            op, threshold = ">=", float(len(refs))
            if (
                rule.type == SigmaCorrelationType.TEMPORAL_ORDERED
                and len(refs) == 2
                and refs[1].min_count <= 1
            ):
                # two rules, the second needing one event: "the first fired before the
                # second's last event" is exact in SQL, so no per-group event arrays are
                # built and checked in Python (a second rule needing n events needs n of
                # them after the first fired: checked in Python)
                having += f" AND {_fires_at(0, refs[0])} < max(event_time) FILTER (WHERE m1)"
                in_python = False
    else:  # pragma: no cover - every type of the specification is handled above
        raise SigmaFeatureNotSupportedByBackendError(f"correlation type {kind}")

    timespan = tune.timespan or timedelta(seconds=rule.timespan.seconds)
    techniques, tactics = _tags_with_refs(rule)
    return CompiledRule(
        kind=kind,
        refs=tuple(refs),
        group_fields=tuple(written_groups),
        group_key=group_key,
        value=value,
        op=op,
        threshold=threshold,
        having=having,
        techniques=techniques,
        tactics=tactics,
        **_common(rule, name, tune, timespan, hop),
        ordered=in_python,
        ip_field=ip_field,
        prefilter=prefilter,
    )


def _common(
    rule: SigmaRuleBase, name: str, tune: Tuning, timespan: timedelta, hop: timedelta
) -> dict[str, Any]:
    """The fields every compiled rule takes from its Sigma rule and the deployment."""
    return {
        "name": name,
        "title": rule.title,
        "level": _level(rule, tune),
        "description": rule.description or "",
        "timespan": timespan,
        "hop": hop_for(timespan, tune.hop or hop),
        "sigma_id": str(rule.id or ""),
        "source": str(rule.source.path) if rule.source and rule.source.path else "",
        "suppress_for": tune.suppress_for or timedelta(0),
        "incident_type": _incident_type(rule, name),
        "noun": _noun(rule),
    }


def _incident_type(rule: SigmaRuleBase, name: str) -> str:
    """Sigma custom attribute ``incident_type``, else the rule name."""
    return str((rule.custom_attributes or {}).get("incident_type") or name.replace("-", "_"))


def _noun(rule: SigmaRuleBase) -> str:
    """Sigma custom attribute ``incident_noun`` (what the events are, plural)."""
    return str((rule.custom_attributes or {}).get("incident_noun") or "matching requests")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _fires_at(i: int, ref: RuleRef) -> str:
    """When rule i fires within a window: its first event, or its min_count-th."""
    if ref.min_count <= 1:
        return f"min(event_time) FILTER (WHERE m{i})"
    return f"(array_agg(event_time ORDER BY event_time) FILTER (WHERE m{i}))[{ref.min_count}]"


def _present(i: int, ref: RuleRef) -> str:
    return (
        f"bool_or(m{i})"
        if ref.min_count <= 1
        else f"count(*) FILTER (WHERE m{i}) >= {ref.min_count}"
    )


def _extended(node: object, index: dict[str, int], refs: Sequence[RuleRef]) -> str:
    if isinstance(node, SigmaRuleReference):
        if node.reference not in index:
            raise SigmaFeatureNotSupportedByBackendError(f"unknown rule {node.reference!r}")
        i = index[node.reference]
        return _present(i, refs[i])
    if isinstance(node, CorrelationConditionNOT):
        # bool_or over flags that are all NULL (a test on an absent field) is NULL: absent
        return f"NOT coalesce({_extended(node.args[0], index, refs)}, false)"
    if isinstance(node, CorrelationConditionAND | CorrelationConditionOR):
        joiner = " AND " if isinstance(node, CorrelationConditionAND) else " OR "
        return "(" + joiner.join(_extended(a, index, refs) for a in node.args) + ")"
    raise SigmaFeatureNotSupportedByBackendError(f"extended condition element {node!r}")


def _ref(
    ref: SigmaRuleReference, outer: SigmaCorrelationRule, predicates: dict[int, str]
) -> RuleRef:
    target = ref.rule
    if isinstance(target, SigmaRule):
        if id(target) not in predicates:
            raise SigmaFeatureNotSupportedByBackendError(
                f"referenced rule {ref.reference!r} did not compile"
            )
        return RuleRef(ref.reference, predicates[id(target)])
    # a correlation of a correlation: an event_count over detection rules, counted within
    # the outer window (its own timespan must fit in it)
    assert isinstance(target, SigmaCorrelationRule)
    cond = target.condition
    if (
        target.type != SigmaCorrelationType.EVENT_COUNT
        or not isinstance(cond, SigmaCorrelationCondition)
        or cond.op
        not in (SigmaCorrelationConditionOperator.GTE, SigmaCorrelationConditionOperator.GT)
    ):
        raise SigmaFeatureNotSupportedByBackendError(
            f"referenced correlation {ref.reference!r}: only event_count with gte/gt can be "
            "nested in a temporal correlation"
        )
    if outer.type not in (SigmaCorrelationType.TEMPORAL, SigmaCorrelationType.TEMPORAL_ORDERED):
        raise SigmaFeatureNotSupportedByBackendError(
            f"referenced correlation {ref.reference!r}: only temporal correlations can "
            "reference correlation rules"
        )
    if target.timespan.seconds > outer.timespan.seconds:
        raise SigmaFeatureNotSupportedByBackendError(
            f"referenced correlation {ref.reference!r} spans {target.timespan.spec}, longer "
            f"than the outer {outer.timespan.spec}"
        )
    if sorted(target.group_by or []) != sorted(outer.group_by or []):
        raise SigmaFeatureNotSupportedByBackendError(
            f"referenced correlation {ref.reference!r} groups by {target.group_by}, the outer "
            f"rule by {outer.group_by}: they must group alike"
        )
    inner = [_ref(r, target, predicates) for r in _references(target)]
    need = int(cond.count) + (1 if cond.op == SigmaCorrelationConditionOperator.GT else 0)
    return RuleRef(ref.reference, " OR ".join(f"({r.predicate})" for r in inner), max(1, need))


def _tags_with_refs(rule: SigmaCorrelationRule) -> tuple[tuple[str, ...], tuple[str, ...]]:
    techniques, tactics = attack_tags(rule)
    for ref in _references(rule):
        t, c = attack_tags(ref.rule)
        techniques += t
        tactics += c
    return tuple(dict.fromkeys(techniques)), tuple(dict.fromkeys(tactics))


def ordered_match(times: Sequence[Sequence[float] | None], needs: Sequence[int]) -> bool:
    """Did the referenced rules fire in order? ``times[i]``: the ascending event times of
    rule i in the window (epoch seconds); rule i fires at its ``needs[i]``-th event after the
    previous rule fired (firing each as early as possible is optimal)."""
    after = float("-inf")
    for seq, need in zip(times, needs, strict=True):
        later = [t for t in seq or [] if t > after]
        if len(later) < need:
            return False
        after = later[need - 1]
    return True
