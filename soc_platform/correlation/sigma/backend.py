"""A pySigma backend for PostgreSQL over soc-platform's ``waf_events`` table.

Detection rules become SQL boolean expressions over ``waf_events AS e``; the ``default``
output format wraps them into a runnable ``SELECT``. Matching follows Sigma: strings compare
case-insensitively (``ILIKE`` with ``%``/``_`` escaped, so a rule's ``%`` is literal), ``|cased``
compares exactly, ``|re`` is a PostgreSQL regular expression (case-sensitive unless ``|i``),
``|cidr`` tests the client IP with ``<<=``, numbers compare as numbers on numeric columns,
a list column matches when any element does, and values without a field (keywords) search
the request text the hot table keeps. Correlation rules are compiled by
:mod:`soc_platform.correlation.compiler` into window queries; this backend supplies their
field expressions.
"""

from collections.abc import Callable
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
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

from soc_platform.correlation.sigma.columns import COLUMNS, Column, Kind
from soc_platform.correlation.sigma.pipeline import UnknownFieldFailure

_COMPARE = {
    SigmaCompareExpression.CompareOperators.LT: "<",
    SigmaCompareExpression.CompareOperators.LTE: "<=",
    SigmaCompareExpression.CompareOperators.GT: ">",
    SigmaCompareExpression.CompareOperators.GTE: ">=",
}


def sql_literal(text: str) -> str:
    """A standard-conforming SQL string literal (quotes doubled; backslashes are literal)."""
    return "'" + text.replace("'", "''") + "'"


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

    # -- negation -------------------------------------------------------------------------
    def convert_condition_not(self, cond: ConditionNOT, state: ConversionState) -> str | None:
        """``NOT coalesce(expr, false)``: a test on a NULL field (an absent User-Agent) is
        unknown in SQL, but false in Sigma, so its negation must be true."""
        arg = cond.args[0]
        if arg is None:  # pragma: no cover - pySigma never builds an empty NOT
            return None
        if arg.__class__ in self.precedence:
            inner = self.convert_condition_group(arg, state)
        else:
            inner = self.convert_condition(arg, state)
        if inner is None:  # pragma: no cover
            return None
        assert isinstance(inner, str)  # this backend defers no expressions
        return f"{self.not_token} coalesce({inner}, false)"

    # -- fields ---------------------------------------------------------------------------
    def column(self, field: str) -> Column:
        """The column a (mapped) field name stands for."""
        col = COLUMNS.get(field)
        if col is not None and field != "keywords":
            return col
        if self.strict_fields:
            raise SigmaFeatureNotSupportedByBackendError(
                f"field '{field}' is not a column of waf_events "
                f"(columns: {', '.join(sorted(set(COLUMNS) - {'keywords'}))})"
            )
        return Column(field, 'e."' + field.replace('"', '""') + '"', "text", "")

    def escape_and_quote_field(self, field_name: str) -> str:
        return self.column(field_name).sql

    def text_of(self, field: str) -> str:
        """The field as text (group keys, distinct counts of mixed kinds)."""
        col = self.column(field)
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
        pattern = self.like_pattern(cond.value)
        return self._on(self.column(cond.field), lambda x: f"{x} ILIKE {pattern}")

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
        op, regex = self.regex_of(cond.value)
        return self._on(self.column(cond.field), lambda x: f"{x} {op} {regex}")

    @staticmethod
    def regex_of(value: SigmaRegularExpression) -> tuple[str, str]:
        """(operator, literal): ``~`` or ``~*`` (the i flag); m becomes PostgreSQL's (?w)
        (^ and $ at line breaks); s is PostgreSQL's default (. matches a newline)."""
        flags = value.flags or set()
        op = "~*" if SigmaRegularExpressionFlag.IGNORECASE in flags else "~"
        prefix = "(?w)" if SigmaRegularExpressionFlag.MULTILINE in flags else ""
        return op, sql_literal(prefix + str(value.regexp))

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
        col = self.column(cond.field)
        if col.kind == "text[]":
            return f"cardinality({col.sql}) = 0"
        if col.kind == "text":
            return f"coalesce({col.sql}, '') = ''"
        return f"{col.sql} IS NULL"

    def convert_condition_field_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return f"{self.column(cond.field).sql} IS NOT NULL"

    def convert_condition_field_not_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return f"{self.column(cond.field).sql} IS NULL"

    def convert_condition_field_eq_field(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        other = getattr(cond.value, "field", None)
        if not isinstance(other, str):
            raise SigmaFeatureNotSupportedByBackendError("field reference without a field")
        return f"{self.text_of(cond.field)} = {self.text_of(other)}"

    # -- keywords (values without a field) -----------------------------------------------
    def _keywords(self) -> Column:
        return COLUMNS["keywords"]

    def convert_condition_val_str(
        self, cond: ConditionValueExpression, state: ConversionState
    ) -> str:
        assert isinstance(cond.value, SigmaString)
        value = cond.value
        # a keyword is found anywhere in the text, as in a full-text search
        if not value.startswith(SpecialChars.WILDCARD_MULTI):
            value = SigmaString("*") + value
        if not value.endswith(SpecialChars.WILDCARD_MULTI):
            value = value + SigmaString("*")
        return f"{self._keywords().sql} ILIKE {self.like_pattern(value)}"

    def convert_condition_val_num(
        self, cond: ConditionValueExpression, state: ConversionState
    ) -> str:
        assert isinstance(cond.value, SigmaNumber)
        pattern = sql_literal(f"%{cond.value.number}%")
        return f"{self._keywords().sql} ILIKE {pattern}"

    def convert_condition_val_re(
        self, cond: ConditionValueExpression, state: ConversionState
    ) -> str:
        assert isinstance(cond.value, SigmaRegularExpression)
        op, regex = self.regex_of(cond.value)
        return f"{self._keywords().sql} {op} {regex}"

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


__all__ = ["Kind", "PostgresBackend", "sql_literal"]
