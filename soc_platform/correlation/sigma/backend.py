"""A pySigma backend for PostgreSQL over soc-platform's ``waf_events`` table.

Detection rules become SQL boolean expressions over ``waf_events AS e``; the ``default``
output format wraps them into a runnable ``SELECT``. Matching follows Sigma:

- strings compare case-insensitively, for every alphabet whatever the server's locale
  (both sides lower-cased under the hot store's collation ``soc_fold``, then ``LIKE`` with
  ``%``/``_``/``\\`` escaped, so a rule's ``%`` is literal); ``|cased`` compares exactly
  (``LIKE``);
- ``|re`` is PCRE translated to PostgreSQL's regular expressions (:mod:`.regex`) and applied
  under ``COLLATE "C"`` (no locale decides what ``\\w`` or a word boundary is);
- an IP address value equals the client IP as an address (``2001:db8:0:0::1`` is
  ``2001:db8::1``), a value with wildcards matches its text; ``|cidr`` tests ``<<=``;
- numbers compare as numbers on numeric columns; a list column matches when any element
  does; ``null`` is an absent value (not the empty string), as is ``|exists: false``;
- values without a field (keywords) search the request text the hot table keeps;
- a test on a web field WAF events do not carry (marked by the pipeline) takes the value
  Sigma gives it over events without that field: false, or true for ``null`` and
  ``|exists: false``. The condition is simplified (``x or false = x``, ``x and false =
  false``, ``not false = true``). A rule is refused, with the field and the reason, when the
  constant could only add matches (a filter under ``not``, a required absence: the WAF did
  not record the field, the request may well have carried it) or when the rule is left
  unable to match anything; a constant that only removes a branch (the usual ``1 of
  selection_*`` with one selection on a missing field) converts the rest.

Correlation rules are compiled by :mod:`soc_platform.correlation.compiler` into window
queries; this backend supplies their field expressions.
"""

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionItem,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.conversion.base import TextQueryBackend
from sigma.conversion.state import ConversionState
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError
from sigma.processing.pipeline import ProcessingPipeline
from sigma.rule import SigmaRule
from sigma.types import (
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

from soc_platform.correlation.sigma.columns import (
    ABSENT_PREFIX,
    COLUMNS,
    UNAVAILABLE,
    Column,
    Kind,
)
from soc_platform.correlation.sigma.pipeline import UnknownFieldFailure
from soc_platform.correlation.sigma.regex import UnsupportedRegexError, to_postgres

_COMPARE = {
    SigmaCompareExpression.CompareOperators.LT: "<",
    SigmaCompareExpression.CompareOperators.LTE: "<=",
    SigmaCompareExpression.CompareOperators.GT: ">",
    SigmaCompareExpression.CompareOperators.GTE: ">=",
}


#: Case-insensitive comparisons lower-case under this collation: Unicode's full case
#: mapping for every alphabet, whatever the database's own locale (initdb --locale=C maps
#: ASCII only). The hot store creates it at setup as a copy of PostgreSQL 18's built-in
#: ``pg_unicode_fast`` or, on older servers, of ICU's root collation ``und-x-icu``
#: (sql/queries/fold_collation.sql): both lower-case alike, and the SQL is the same.
CI_COLLATION = "soc_fold"


_PLAIN_COLUMN = re.compile(r"[a-z]\.[a-z_]+")


def folded(expr: str) -> str:
    """``expr`` lower-cased under :data:`CI_COLLATION`. An ASCII value (as many bytes as
    characters) is lower-cased byte-wise, which gives the same text at a fraction of ICU's
    cost; the result's collation is "C" (a LIKE compares bytes anyway). A computed
    expression (the keyword text) is not repeated: it is lower-cased under the collation."""
    if not _PLAIN_COLUMN.fullmatch(expr):
        return f'(lower({expr} COLLATE {CI_COLLATION}) COLLATE "C")'
    return (
        f"(CASE WHEN octet_length({expr}) = char_length({expr}) "
        f'THEN lower({expr} COLLATE "C") '
        f'ELSE lower({expr} COLLATE {CI_COLLATION}) COLLATE "C" END)'
    )


def folded_literal(literal: str) -> str:
    """A constant lower-cased under :data:`CI_COLLATION` (PostgreSQL folds it once, when
    planning)."""
    return f'(lower({literal} COLLATE {CI_COLLATION}) COLLATE "C")'


def sql_literal(text: str) -> str:
    """A standard-conforming SQL string literal (quotes doubled; backslashes are literal)."""
    return "'" + text.replace("'", "''") + "'"


class Truth(Enum):
    """A condition whose value is known without looking at the event (a test on a field
    the WAF events never carry)."""

    FALSE = False
    TRUE = True


def _absent_reason(field: str) -> str:
    name = field.removeprefix(ABSENT_PREFIX)
    return f"field '{name}' ({UNAVAILABLE.get(name, 'not in WAF events')})"


class PostgresBackend(TextQueryBackend):
    """Sigma -> PostgreSQL over ``waf_events AS e``.

    ``strict_fields`` (default): a field must be a known column (the WAF pipeline maps the
    Sigma taxonomy onto them first). Off, an unknown field is taken as a text column of that
    name, which lets correlation rules written for other taxonomies compile for inspection.
    """

    name: ClassVar[str] = "soc-platform PostgreSQL"
    formats: ClassVar[dict[str, str]] = {
        "default": "a runnable SELECT over waf_events",
        "predicate": "the boolean expression over waf_events AS e",
    }
    requires_pipeline: ClassVar[bool] = False

    precedence: ClassVar[tuple[type[ConditionItem], type[ConditionItem], type[ConditionItem]]] = (
        ConditionNOT,
        ConditionAND,
        ConditionOR,
    )
    group_expression: ClassVar[str] = "({expr})"
    or_token: ClassVar[str] = "OR"
    and_token: ClassVar[str] = "AND"
    not_token: ClassVar[str] = "NOT"
    eq_token: ClassVar[str] = " = "
    str_quote: ClassVar[str] = "'"
    escape_char: ClassVar[str] = "\\"
    wildcard_multi: ClassVar[str] = "%"
    wildcard_single: ClassVar[str] = "_"
    add_escaped: ClassVar[str] = "\\"
    # the generic templates are never reached for these: the methods below handle them
    field_null_expression: ClassVar[str] = "{field} IS NULL"
    field_exists_expression: ClassVar[str] = "{field} IS NOT NULL"
    field_not_exists_expression: ClassVar[str] = "{field} IS NULL"

    def __init__(
        self,
        processing_pipeline: ProcessingPipeline | None = None,
        collect_errors: bool = False,
        strict_fields: bool = True,
        **backend_options: Any,
    ) -> None:
        if not strict_fields and processing_pipeline is not None:
            # the pipeline's unknown-field check would reject those fields before they reach
            # the backend: drop it (from this pipeline, which the backend now owns), so they
            # become text columns here
            processing_pipeline.items = [
                item
                for item in processing_pipeline.items
                if not isinstance(item.transformation, UnknownFieldFailure)
            ]
        super().__init__(processing_pipeline, collect_errors, **backend_options)
        self.strict_fields = strict_fields

    # -- boolean structure ------------------------------------------------------------
    _negations: int = 0  # NOT levels above the condition being converted

    def _arg(self, parent: ConditionItem, arg: Any, state: ConversionState) -> Any:
        if self.compare_precedence(parent, arg):
            return self.convert_condition(arg, state)
        return self.convert_condition_group(arg, state)

    def convert_condition_group(self, cond: Any, state: ConversionState) -> Any:
        expr = self.convert_condition(cond, state)
        if isinstance(expr, Truth) or expr is None:
            return expr
        return self.group_expression.format(expr=expr)

    def convert_condition_or(self, cond: ConditionOR, state: ConversionState) -> Any:
        parts = self._parts(cond, state)
        if Truth.TRUE in parts:
            return Truth.TRUE
        kept = [p for p in parts if p is not None and p is not Truth.FALSE]
        return f" {self.or_token} ".join(kept) if kept else Truth.FALSE

    def convert_condition_and(self, cond: ConditionAND, state: ConversionState) -> Any:
        parts = self._parts(cond, state)
        if Truth.FALSE in parts:
            return Truth.FALSE
        kept = [p for p in parts if p is not None and p is not Truth.TRUE]
        return f" {self.and_token} ".join(kept) if kept else Truth.TRUE

    def _parts(self, cond: ConditionOR | ConditionAND, state: ConversionState) -> list[Any]:
        """The converted arguments of an OR (AND), nested ORs (ANDs) flattened, with the
        case-insensitive string tests on one field folded into one test: its value is
        lower-cased once and compared with every pattern (``LIKE ANY``/``ALL``). Lower-casing
        costs more than the comparisons; a rule lists dozens of values per field."""
        args: list[Any] = []
        pending = list(cond.args)
        while pending:
            arg = pending.pop(0)
            if type(arg) is type(cond):
                pending[:0] = arg.args
            else:
                args.append(arg)
        parts: list[Any] = []
        groups: dict[str, list[str]] = {}  # field -> patterns, at the first test's place
        for arg in args:
            leaf = self._ci_leaf(arg)
            if leaf is None:
                parts.append(self._arg(cond, arg, state))
                continue
            if isinstance(cond, ConditionAND) and self._is_list(leaf[0]):
                # each value of an AND may match a different element of a list
                parts.append(self._ci_match(*leaf))
                continue
            if leaf[0] not in groups:
                groups[leaf[0]] = []
                parts.append(_Group(leaf[0]))
            groups[leaf[0]].append(leaf[1])
        quantifier = "ANY" if isinstance(cond, ConditionOR) else "ALL"
        return [
            self._ci_match(p.field, groups[p.field], quantifier) if isinstance(p, _Group) else p
            for p in parts
        ]

    def _is_list(self, field: str) -> bool:
        return field != _KEYWORDS and self.column(field).kind == "text[]"

    def _ci_leaf(self, arg: Any) -> tuple[str, str] | None:
        """(field, LIKE pattern literal) of a case-insensitive string test, else None."""
        if isinstance(arg, ConditionFieldEqualsValueExpression):
            value, field = arg.value, arg.field
            if field is None or field.startswith(ABSENT_PREFIX) or type(value) is not SigmaString:
                return None
            if self.column(field).kind not in ("text", "text[]"):
                return None
            return field, self.like_pattern(value)
        if isinstance(arg, ConditionValueExpression) and type(arg.value) is SigmaString:
            if _ip_address(arg.value) is not None:
                return None
            return _KEYWORDS, self.like_pattern(_anywhere(arg.value))
        return None

    def _ci_match(self, field: str, patterns: list[str] | str, quantifier: str = "ANY") -> str:
        """Case-insensitive LIKE of ``field`` against patterns, for every alphabet whatever
        the database locale: both sides lower-cased under :data:`CI_COLLATION` (which is
        what ILIKE does under a non-C collation)."""
        col = COLUMNS["keywords"] if field == _KEYWORDS else self.column(field)
        if isinstance(patterns, str):
            patterns = [patterns]
        lowered = [folded_literal(p) for p in patterns]

        def test(x: str) -> str:
            subject = folded(x)
            if len(lowered) == 1:
                return f"{subject} LIKE {lowered[0]}"
            return f"{subject} LIKE {quantifier} (ARRAY[{', '.join(lowered)}])"

        return self._on(col, test)

    def convert_condition_not(self, cond: ConditionNOT, state: ConversionState) -> Any:
        """``NOT coalesce(expr, false)``: a test on a NULL field (an absent User-Agent) is
        unknown in SQL, but false in Sigma, so its negation must be true."""
        arg = cond.args[0]
        if arg is None:  # pragma: no cover - pySigma never builds an empty NOT
            return None
        self._negations += 1
        try:
            if arg.__class__ in self.precedence:
                inner = self.convert_condition_group(arg, state)
            else:
                inner = self.convert_condition(arg, state)
        finally:
            self._negations -= 1
        if isinstance(inner, Truth):
            return Truth(not inner.value)
        if inner is None:  # pragma: no cover
            return None
        assert isinstance(inner, str)  # this backend defers no expressions
        return f"{self.not_token} coalesce({inner}, false)"

    def convert_condition_field_eq_val(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        if cond.field is not None and cond.field.startswith(ABSENT_PREFIX):
            return self._absent(cond)
        return super().convert_condition_field_eq_val(cond, state)

    def _absent(self, cond: ConditionFieldEqualsValueExpression) -> Truth:
        """The value of a test on a field the events never carry, where it can only remove
        matches; refused where it would add some."""
        value = isinstance(cond.value, SigmaNull) or (
            isinstance(cond.value, SigmaExists) and not cond.value.exists
        )
        if value != (self._negations % 2 == 1):
            # true where the rule wants it, or false under a NOT: the rule would fire on
            # every request whatever that field held
            how = (
                "is tested under 'not' (a filter)"
                if self._negations % 2
                else "must be absent (null or |exists: false)"
            )
            raise SigmaFeatureNotSupportedByBackendError(
                f"{_absent_reason(cond.field)} {how}: WAF events do not record it, so the "
                "rule would match requests it means to exclude"
            )
        return Truth(value)

    def finish_query(
        self, rule: SigmaRule | SigmaCorrelationRule, query: Any, state: ConversionState
    ) -> Any:
        if isinstance(query, Truth):
            fields = sorted(
                {
                    _absent_reason(item.field)
                    for item in _detection_items(rule)
                    if item.field and item.field.startswith(ABSENT_PREFIX)
                }
            )
            what = "can never match" if query is Truth.FALSE else "matches every event"
            raise SigmaFeatureNotSupportedByBackendError(
                f"the rule {what} over WAF events: {', '.join(fields)}"
            )
        return super().finish_query(rule, query, state)

    # -- fields ---------------------------------------------------------------------------
    def column(self, field: str) -> Column:
        """The column a (mapped) field name stands for."""
        col = COLUMNS.get(field)
        if col is not None and field != "keywords":
            return col
        if field.startswith(ABSENT_PREFIX) or (self.strict_fields and field in UNAVAILABLE):
            raise SigmaFeatureNotSupportedByBackendError(_absent_reason(field))
        if self.strict_fields:
            raise SigmaFeatureNotSupportedByBackendError(
                f"field '{field}' is not a column of waf_events "
                f"(columns: {', '.join(sorted(set(COLUMNS) - {'keywords'}))})"
            )
        return Column(field, 'e."' + field.replace('"', '""') + '"', "text", "")

    def escape_and_quote_field(self, field_name: str) -> str:
        return self.column(field_name).sql

    def text_of(self, field: str) -> str:
        """The field as text in its normal form (group keys, distinct counts): host names
        lower-cased (DNS ignores their case), IPs as canonical text, lists joined."""
        col = self.column(field)
        if col.key is not None:
            return col.key
        return {
            "text": col.sql,
            "int": f"({col.sql})::text",
            "inet": f"host({col.sql})",
            "text[]": f"array_to_string({col.sql}, ',')",
        }[col.kind]

    def numeric_of(self, field: str) -> str:
        """The field as a number (value_sum / value_avg / percentiles)."""
        col = self.column(field)
        if col.kind == "int":
            return col.sql
        if self.strict_fields:
            raise SigmaFeatureNotSupportedByBackendError(
                f"field '{field}' is {col.kind}, a numeric field is needed"
            )
        return f"({col.sql})::numeric"

    @staticmethod
    def _on(col: Column, test: Callable[[str], str]) -> str:
        """Apply a test to a column: to any element of a list column, to the text of an IP."""
        if col.kind == "text[]":
            # compiled rule SQL, not a query built from input
            return f"EXISTS (SELECT 1 FROM unnest({col.sql}) AS v(x) WHERE {test('v.x')})"  # noqa: S608
        if col.kind == "inet":
            return test(f"host({col.sql})")
        if col.kind == "int":
            return test(f"({col.sql})::text")
        return test(col.sql)

    # -- values ---------------------------------------------------------------------------
    def like_pattern(self, value: SigmaString) -> str:
        """A LIKE pattern literal: Sigma wildcards become %/_, literal %, _ and \\ escaped."""
        return sql_literal(value.convert("\\", "%", "_", "%_\\"))

    def convert_condition_field_eq_val_str(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        assert isinstance(cond.value, SigmaString)
        col = self.column(cond.field)
        address = _ip_address(cond.value) if col.kind == "inet" else None
        if address is not None:
            # an address equals the client IP whatever its spelling (2001:db8:0:0::1)
            return f"{col.sql} = inet {sql_literal(address)}"
        return self._ci_match(cond.field, [self.like_pattern(cond.value)])

    def convert_condition_field_eq_val_str_case_sensitive(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        assert isinstance(cond.value, SigmaString)
        pattern = self.like_pattern(cond.value)
        return self._on(self.column(cond.field), lambda x: f"{x} LIKE {pattern}")

    def convert_condition_field_eq_val_num(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        assert isinstance(cond.value, SigmaNumber)
        col = self.column(cond.field)
        if col.kind == "int":
            return f"{col.sql} = {cond.value.number}"
        literal = sql_literal(str(cond.value.number))
        return self._on(col, lambda x: f"{x} = {literal}")

    def convert_condition_field_eq_val_re(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        assert isinstance(cond.value, SigmaRegularExpression)
        regex = self.regex_of(cond.value)
        return self._on(self.column(cond.field), lambda x: f'({x} COLLATE "C") ~ {regex}')

    @staticmethod
    def regex_of(value: SigmaRegularExpression) -> str:
        """The PCRE value translated to a PostgreSQL regular expression literal (flags i, m
        and s included), or refused naming what PostgreSQL cannot express."""
        flags = value.flags or set()
        try:
            regex = to_postgres(
                str(value.regexp),
                ignorecase=SigmaRegularExpressionFlag.IGNORECASE in flags,
                multiline=SigmaRegularExpressionFlag.MULTILINE in flags,
                dotall=SigmaRegularExpressionFlag.DOTALL in flags,
            )
        except UnsupportedRegexError as e:
            raise SigmaFeatureNotSupportedByBackendError(
                f"regular expression '{value.regexp}': {e}"
            ) from None
        return sql_literal(regex)

    def convert_condition_field_eq_val_cidr(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        assert isinstance(cond.value, SigmaCIDRExpression)
        col = self.column(cond.field)
        if col.kind != "inet":
            raise SigmaFeatureNotSupportedByBackendError(
                f"|cidr on field '{cond.field}': only IP columns (client_ip) take networks"
            )
        return f"{col.sql} <<= inet {sql_literal(str(cond.value.network))}"

    def convert_condition_field_compare_op_val(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        assert isinstance(cond.value, SigmaCompareExpression)
        return f"{self.numeric_of(cond.field)} {_COMPARE[cond.value.op]} {cond.value.number.number}"

    def convert_condition_field_eq_val_null(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        """``null``: the field is absent. The empty string is a value: ``field: ''``."""
        col = self.column(cond.field)
        if col.kind == "text[]":
            return f"cardinality({col.sql}) = 0"  # a missing list is stored empty
        return f"{col.sql} IS NULL"

    def convert_condition_field_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        col = self.column(cond.field)
        if col.kind == "text[]":
            return f"cardinality({col.sql}) > 0"
        return f"{col.sql} IS NOT NULL"

    def convert_condition_field_not_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return self.convert_condition_field_eq_val_null(cond, state)

    def convert_condition_field_eq_field(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        """``|fieldref``: the two values compare as strings do, case-insensitively (and as
        the whole value, its start, end or any part with startswith/endswith/contains)."""
        ref = cond.value
        if not isinstance(ref, SigmaFieldReference):
            raise SigmaFeatureNotSupportedByBackendError("field reference without a field")
        left, right = self.column(cond.field), self.column(ref.field)
        if left.kind == right.kind == "inet":
            return f"{left.sql} = {right.sql}"

        def as_text(col: Column) -> str:
            text = {"inet": f"host({col.sql})", "int": f"({col.sql})::text"}.get(col.kind, col.sql)
            if col.kind == "text[]":
                text = f"array_to_string({col.sql}, ',')"
            return folded(text)

        a, b = as_text(left), as_text(right)
        if ref.starts_with and ref.ends_with:
            return f"strpos({a}, {b}) > 0"
        if ref.starts_with:
            return f"starts_with({a}, {b})"
        if ref.ends_with:
            return f"right({a}, length({b})) = {b}"
        return f"{a} = {b}"

    # -- keywords (values without a field) -----------------------------------------------
    def _keywords(self) -> Column:
        return COLUMNS["keywords"]

    def convert_condition_val_str(
        self, cond: ConditionValueExpression, state: ConversionState
    ) -> str:
        assert isinstance(cond.value, SigmaString)
        if isinstance(cond.value, SigmaCasedString):
            pattern = self.like_pattern(_anywhere(cond.value))
            return f"{self._keywords().sql} LIKE {pattern}"
        found = self._ci_match(_KEYWORDS, [self.like_pattern(_anywhere(cond.value))])
        address = _ip_address(cond.value)
        if address is not None:
            # the address in any spelling (the hot table keeps the canonical one)
            found = f"({found} OR e.client_ip = inet {sql_literal(address)})"
        return found

    def convert_condition_val_num(
        self, cond: ConditionValueExpression, state: ConversionState
    ) -> str:
        assert isinstance(cond.value, SigmaNumber)
        pattern = sql_literal(f"%{cond.value.number}%")
        return f"{self._keywords().sql} LIKE {pattern}"

    def convert_condition_val_re(
        self, cond: ConditionValueExpression, state: ConversionState
    ) -> str:
        assert isinstance(cond.value, SigmaRegularExpression)
        return f'({self._keywords().sql} COLLATE "C") ~ {self.regex_of(cond.value)}'

    # -- output ---------------------------------------------------------------------------
    def finalize_query_default(
        self, rule: SigmaRule | SigmaCorrelationRule, query: str, index: int, state: Any
    ) -> str:
        return "SELECT e.* FROM waf_events AS e WHERE " + query  # noqa: S608 (compiled rule)

    def finalize_query_predicate(
        self, rule: SigmaRule | SigmaCorrelationRule, query: str, index: int, state: Any
    ) -> str:
        return query

    def finalize_output_default(self, queries: list[str]) -> list[str]:
        return queries

    def finalize_output_predicate(self, queries: list[str]) -> list[str]:
        return queries


_KEYWORDS = ""  # the keyword text, among field names (no field is named "")


@dataclass(frozen=True)
class _Group:
    """Where the folded string tests on one field go among an OR's (AND's) arguments."""

    field: str


def _anywhere(value: SigmaString) -> SigmaString:
    """A keyword is found anywhere in the text, as in a full-text search."""
    if not value.startswith(SpecialChars.WILDCARD_MULTI):
        value = SigmaString("*") + value
    if not value.endswith(SpecialChars.WILDCARD_MULTI):
        value = value + SigmaString("*")
    return value


def _ip_address(value: SigmaString) -> str | None:
    """The canonical text of a plain (wildcard-free) value that is an IP address."""
    if value.contains_special():
        return None
    try:
        address = ipaddress.ip_address(str(value).strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id is not None:
        return None
    return str(address)


def _detection_items(rule: SigmaRule | SigmaCorrelationRule) -> list[Any]:
    if not isinstance(rule, SigmaRule):
        return []
    out: list[Any] = []
    pending: list[Any] = list(rule.detection.detections.values())
    while pending:
        item = pending.pop()
        if hasattr(item, "detection_items"):
            pending.extend(item.detection_items)
        else:
            out.append(item)
    return out


__all__ = ["CI_COLLATION", "Kind", "PostgresBackend", "Truth", "sql_literal"]
