"""Arrow helpers for nested WAF records: lists gathered per event, headers by name, URLs.

Everything works on whole columns (flatten, parent indices, numpy), never row by row.
"""

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

STRING_LIST = pa.list_(pa.field("element", pa.string()))


def flat_with_parents(
    values: pa.Array, parents: np.ndarray | None = None
) -> tuple[pa.Array, np.ndarray]:
    """The elements of a list column and the row each came from (null lists skipped).

    ``parents``: the rows of ``values`` themselves, when ``values`` is already a flattened
    child column (so grandchildren map to the top-level rows).
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    flat = pc.list_flatten(values)
    own = pc.list_parent_indices(values).to_numpy(zero_copy_only=False).astype(np.int64)
    return flat, (own if parents is None else parents[own])


def gather_lists(
    n: int,
    parts: Sequence[tuple[np.ndarray, pa.Array]],
    *,
    distinct: bool = False,
) -> pa.Array:
    """A ``list<string>`` column of ``n`` rows from (row, value) pieces, in piece order.

    Null values are dropped; with ``distinct`` a value repeated within a row is kept once
    (its first place).
    """
    parents_l = [np.asarray(p, dtype=np.int64) for p, _ in parts]
    values_l = [
        pc.cast(v.combine_chunks() if isinstance(v, pa.ChunkedArray) else v, pa.string())
        for _, v in parts
    ]
    parents = np.concatenate(parents_l) if parents_l else np.zeros(0, np.int64)
    values = pa.concat_arrays(values_l) if values_l else pa.array([], pa.string())
    keep = pc.is_valid(values).to_numpy(zero_copy_only=False)
    parents, values = parents[keep], values.filter(pa.array(keep))
    order = np.arange(len(parents), dtype=np.int64)
    if distinct and len(parents):
        firsts = (
            pa.table({"p": parents, "v": values, "i": order})
            .group_by(["p", "v"], use_threads=False)
            .aggregate([("i", "min")])
        )
        order = np.sort(firsts["i_min"].to_numpy())
        parents, values = parents[order], values.take(pa.array(order))
    sort = np.argsort(parents, kind="stable")
    counts = np.bincount(parents, minlength=n) if len(parents) else np.zeros(n, np.int64)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    return pa.ListArray.from_arrays(
        pa.array(offsets, pa.int32()), values.take(pa.array(sort)), type=STRING_LIST
    )


def first_per_row(n: int, parents: np.ndarray, values: pa.Array, mask: pa.Array) -> pa.Array:
    """For each of ``n`` rows, the first of its ``values`` where ``mask`` holds (else null)."""
    hits = np.flatnonzero(pc.fill_null(mask, False).to_numpy(zero_copy_only=False))
    rows, first = np.unique(parents[hits], return_index=True)
    pos = np.full(n, -1, dtype=np.int64)
    pos[rows] = hits[first]
    return pc.take(values, pa.array(pos, mask=pos < 0))


def header_values(headers: pa.Array, name: str) -> pa.Array:
    """The first value of header ``name`` (any case) per row, from ``list<struct<name,
    value>>``."""
    flat, parents = flat_with_parents(headers)
    names = pc.utf8_lower(pc.struct_field(flat, "name"))
    return first_per_row(
        len(headers), parents, pc.struct_field(flat, "value"), pc.equal(names, name.lower())
    )


def first_valid(*columns: pa.Array) -> pa.Array:
    """Per row, the first non-null value among ``columns``."""
    return pc.coalesce(*columns)


def split_uri(uri: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(path, query) of request URIs: the query is what follows the first ``?`` (null
    when there is no ``?``)."""
    parts = pc.extract_regex(uri, r"(?s)^(?P<path>[^?]*)(?:\?(?P<query>.*))?$")
    has_query = pc.match_substring(uri, "?")
    path = pc.struct_field(parts, "path")
    query = pc.if_else(has_query, pc.struct_field(parts, "query"), pa.scalar(None, pa.string()))
    return path, query


def join_uri(path: pa.Array, query: pa.Array) -> pa.Array:
    """``path?query``, or the path alone when the query is null or empty."""
    empty = pc.fill_null(pc.equal(query, ""), True)
    joined = pc.binary_join_element_wise(path, query, "?")
    return pc.if_else(empty, path, joined)


def constant(value: object, n: int, kind: pa.DataType) -> pa.Array:
    """A column of ``n`` copies of ``value``."""
    return pa.repeat(pa.scalar(value, kind), n)


def nonempty(values: pa.Array, *blank: str) -> pa.Array:
    """``values`` with ``""`` (and each of ``blank``) turned into null."""
    out = values
    for word in ("", *blank):
        out = pc.if_else(pc.fill_null(pc.equal(out, word), False), pa.scalar(None, out.type), out)
    return out


#: Seconds from 1970 to 0001-01-01 and to 9999-12-31T23:59:59 (what a timestamp holds).
_FIRST_S, _LAST_S = -62135596800, 253402300799


def epoch_micros(values: pa.Array, per_second: int) -> pa.Array:
    """Integers counting ``1/per_second`` s since 1970 as UTC microsecond timestamps.

    Values beyond the years 1-9999 are clamped to those bounds, so they become events
    outside the accepted times (dead letters ``out_of_range``), never an overflow.
    """
    from soc_platform.models import UTC_US

    values = pc.cast(values, pa.int64())
    if per_second >= 10**6:  # division cannot overflow
        micros = pc.divide(values, per_second // 10**6)
    else:
        lo, hi = _FIRST_S * per_second, _LAST_S * per_second
        clamped = pc.max_element_wise(pc.min_element_wise(values, hi), lo)
        micros = pc.multiply(clamped, 10**6 // per_second)
    return pc.cast(micros, UTC_US)
