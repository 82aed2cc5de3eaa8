"""Why one line cannot become a row: Python's judgement of single lines.

Used only off the fast path: on the lines of a block Arrow's reader refused, and on lines
isolated from such a block. Every check is bounded whatever the line holds: integers of
thousands of digits and floats beyond a double are kept as text (Python would refuse or
round them), and lines are never nested deeper than
:data:`~soc_platform.parsing.base.MAX_NESTING_DEPTH` by the time they get here
(:func:`nesting_depth` finds those without recursion).
"""

import json
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from soc_platform.models import DeadLetterReason

_INT64 = (-(1 << 63), (1 << 63) - 1)


# Python types json.loads produces for each Arrow type (exact types: bool is not an int here).
_JSON_KIND: dict[Callable[[pa.DataType], bool], frozenset[type]] = {
    pa.types.is_string: frozenset({str}),
    pa.types.is_integer: frozenset({int}),
    pa.types.is_floating: frozenset({int, float}),
    pa.types.is_boolean: frozenset({bool}),
    pa.types.is_list: frozenset({list}),
}


def _expected(dtype: pa.DataType) -> frozenset[type] | None:
    """The Python types a JSON value of ``dtype`` may decode to; None: anything."""
    for predicate, kinds in _JSON_KIND.items():
        if predicate(dtype):
            return kinds
    return None


_Check = tuple[str, frozenset[type] | None, frozenset[type] | None, str]


# Keyed by identity: hashing a pyarrow Schema (as functools.lru_cache would, per line)
# costs more than checking the line. The schema is kept, so its id stays its own.
_CHECKS: dict[int, tuple[pa.Schema, tuple["_Check", ...]]] = {}


def _field_checks(schema: pa.Schema) -> tuple[_Check, ...]:
    """Per-field type checks of ``schema``, worked out once rather than per line."""
    hit = _CHECKS.get(id(schema))
    if hit is not None and hit[0] is schema:
        return hit[1]
    checks = []
    for fld in schema:
        inner = None
        if pa.types.is_list(fld.type):
            element = _expected(fld.type.value_type)
            inner = None if element is None else element | {type(None)}
        checks.append((fld.name, _expected(fld.type), inner, str(fld.type)))
    if len(_CHECKS) >= 64:  # schemas are module constants; this only bounds odd callers
        _CHECKS.clear()
    _CHECKS[id(schema)] = (schema, tuple(checks))
    return tuple(checks)


class _Number:
    """A JSON number Python would decode lossily or not at all (an integer of thousands
    of digits, a float beyond the double range): kept as its text."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class _BigInt(_Number):
    pass


class _HugeFloat(_Number):
    pass


def _parse_int(text: str) -> int | _BigInt:
    # Python refuses to convert integers of more than 4300 digits (ValueError); anything
    # beyond 20 characters is beyond 64 bits anyway
    return _BigInt(text) if len(text) > 20 else int(text)


def _parse_float(text: str) -> float | _HugeFloat:
    value = float(text)
    return _HugeFloat(text) if math.isinf(value) else value


def _loads(text: str, **hooks: Any) -> Any:
    return json.loads(text, parse_int=_parse_int, parse_float=_parse_float, **hooks)


def _preview(value: object, limit: int = 80) -> str:
    """A short JSON rendering of a value for a dead letter's detail."""
    if isinstance(value, _Number):
        text = value.text
    else:
        try:
            text = json.dumps(value, default=lambda v: getattr(v, "text", "?"))
        except (ValueError, RecursionError):
            text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _type_problem(
    name: str, got: object, kinds: frozenset[type], inner: frozenset[type] | None, type_name: str
) -> tuple[DeadLetterReason, str] | None:
    kind = type(got)
    if kind is _BigInt and int in kinds and float not in kinds:
        return DeadLetterReason.OUT_OF_RANGE, (
            f"{name}: {_preview(got)} does not fit in 64 bits ({type_name})"
        )
    ok = kind in kinds
    if ok and inner is not None:
        ok = all(type(v) in inner for v in got)  # type: ignore[attr-defined]
    if ok and kind is int and int in kinds and float not in kinds:
        if not _INT64[0] <= got <= _INT64[1]:  # type: ignore[operator]
            return DeadLetterReason.OUT_OF_RANGE, (
                f"{name}: {got} does not fit in 64 bits ({type_name})"
            )
    if ok:
        return None
    shown = "number" if isinstance(got, _Number) else type(got).__name__
    return DeadLetterReason.WRONG_TYPE, (
        f"{name}: expected {type_name}, got {shown} {_preview(got)}"
    )


def find_problem(
    line: bytes, schema: pa.Schema, required: Sequence[str] = ()
) -> tuple[DeadLetterReason, str] | None:
    """Why one line cannot become a row of ``schema``, or None if Python sees no problem.

    A missing required field is reported before a wrong type: a record of another format
    (AWS WAF, Cloudflare) lacks the fields rather than having them mistyped. Only what
    Arrow's reader refuses too is reported here, so the verdict on a line is the same
    whether or not the rest of its block needed this check.
    """
    try:
        value = _loads(line.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return DeadLetterReason.INVALID_JSON, f"not UTF-8: {exc.reason}"
    except json.JSONDecodeError as exc:
        return DeadLetterReason.INVALID_JSON, f"{exc.msg} at column {exc.colno}"
    except (ValueError, RecursionError):
        return None  # not Python's to judge: Arrow decides, explain_refusal says why
    if not isinstance(value, dict):
        return DeadLetterReason.NOT_AN_OBJECT, f"expected a JSON object, got {type(value).__name__}"
    for name in required:
        if value.get(name) is None:
            return DeadLetterReason.MISSING_FIELD, f"required field {name!r} is missing or null"
    for name, kinds, inner, type_name in _field_checks(schema):
        got = value.get(name)
        if got is None or kinds is None:
            continue
        kind = type(got)
        if kind in kinds and inner is None and (kind is not int or _INT64[0] <= got <= _INT64[1]):
            continue  # the common case, decided without a call
        problem = _type_problem(name, got, kinds, inner, type_name)
        if problem is not None:
            return problem
    return None


class _Object(dict[str, Any]):
    """A decoded JSON object that remembers the keys it was given more than once."""

    __slots__ = ("repeated",)

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        self.repeated: set[str] = set()
        if len(self) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    self.repeated.add(key)
                seen.add(key)


def _not_unicode(value: object) -> bool:
    """True when a decoded value holds a lone UTF-16 surrogate (``"\\ud800"``)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_not_unicode(k) or _not_unicode(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_not_unicode(v) for v in value)
    return False


def _huge_number(value: object) -> _HugeFloat | None:
    if isinstance(value, _HugeFloat):
        return value
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            found = _huge_number(item)
            if found is not None:
                return found
    return None


def explain_refusal(
    line: bytes, schema: pa.Schema, required: Sequence[str], arrow_error: str
) -> tuple[DeadLetterReason, str]:
    """Why Arrow's reader refused a line Python's checks accept (the line alone).

    JSON allows what Arrow, PostgreSQL or the format cannot take: a field of the format
    given twice, a lone UTF-16 surrogate escape (not Unicode text, so not I-JSON,
    RFC 7493), a number beyond the double range.
    """
    try:
        value = _loads(line.decode("utf-8"), object_pairs_hook=_Object)
    except (ValueError, RecursionError):
        value = None
    if isinstance(value, _Object):
        names = [fld.name for fld in schema if fld.name in value.repeated]
        if names:
            return DeadLetterReason.DUPLICATE_FIELD, (
                f"field {names[0]!r} is given more than once: which value is meant is unclear"
            )
        for key, item in value.items():
            if _not_unicode(key) or _not_unicode(item):
                shown = key.encode("utf-8", "backslashreplace").decode()
                return DeadLetterReason.INVALID_JSON, (
                    f"field {shown!r} holds a lone UTF-16 surrogate escape (like \\ud800): "
                    "not Unicode text"
                )
        for key, item in value.items():
            huge = _huge_number(item)
            if huge is not None:
                return DeadLetterReason.OUT_OF_RANGE, (
                    f"field {key!r}: the number {_preview(huge, 40)} is beyond the range "
                    "of a double"
                )
    return DeadLetterReason.INVALID_VALUE, f"Arrow's JSON reader refused it: {arrow_error[:200]}"


def classify_line(
    line: bytes, schema: pa.Schema, required: Sequence[str] = (), arrow_error: str = ""
) -> tuple[DeadLetterReason, str]:
    """Say why Arrow rejected one line, in terms a person can act on."""
    return find_problem(line, schema, required) or explain_refusal(
        line, schema, required, arrow_error or "no reason given"
    )


def nesting_depth(line: bytes) -> int:
    """How deep arrays and objects nest in one JSON text (brackets in strings do not
    count). Vectorised: no recursion, whatever the depth."""
    a = np.frombuffer(line, dtype=np.uint8)
    if not len(a):
        return 0
    # '[' 0x5b and '{' 0x7b (and ']' 0x5d, '}' 0x7d) differ only in the 0x20 bit
    folded = a | 0x20
    step = (folded == 0x7B).astype(np.int32) - (folded == 0x7D)
    quotes = a == 0x22
    if quotes.any():
        index = np.arange(len(a))
        last_other = np.maximum.accumulate(np.where(a == 0x5C, -1, index))
        # backslashes right before each position; a quote after an odd run is escaped
        run = np.zeros(len(a), dtype=np.int64)
        run[1:] = (index - last_other)[:-1]
        real = quotes & (run % 2 == 0)
        inside = (np.cumsum(real) % 2).astype(bool)
        step[inside] = 0
    return int(np.cumsum(step).max(initial=0))
