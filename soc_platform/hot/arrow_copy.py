"""Arrow -> PostgreSQL COPY input, in bulk (no per-row Python).

Arrow's C++ CSV writer renders the whole batch; list columns become PostgreSQL array
literals through vectorised string kernels first.
"""

import io

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv


def pg_array_literal(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """list<string> -> PostgreSQL text[] literal strings ('{"a","b\\"c"}'); null stays null."""
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    flat = pc.list_flatten(arr)
    escaped = pc.replace_substring(pc.replace_substring(flat, "\\", "\\\\"), '"', '\\"')
    quoted = pc.binary_join_element_wise('"', pc.fill_null(escaped, "NULL"), '"', "")
    # restore NULL elements unquoted
    quoted = pc.if_else(pc.is_null(flat), "NULL", quoted)
    lengths = pc.fill_null(pc.list_value_length(arr), 0)
    rebuilt = pa.ListArray.from_arrays(_offsets(lengths), quoted)
    joined = pc.binary_join(rebuilt, ",")
    literal = pc.binary_join_element_wise("{", joined, "}", "")
    return pc.if_else(pc.is_null(arr), pa.scalar(None, pa.string()), literal)


def _strip_nul_list(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if not pa.types.is_string(arr.type.value_type):
        return arr
    flat = pc.replace_substring(pc.list_flatten(arr), "\x00", "")
    lengths = pc.fill_null(pc.list_value_length(arr), 0)
    rebuilt = pa.ListArray.from_arrays(_offsets(lengths), flat)
    return pc.if_else(pc.is_null(arr), pa.scalar(None, arr.type), rebuilt)


def _offsets(lengths: pa.Array) -> pa.Array:
    cumulative = pc.cumulative_sum(pc.cast(lengths, pa.int64()))
    return pa.concat_arrays([pa.array([0], pa.int64()), cumulative]).cast(pa.int32())


def to_copy_csv(table: pa.Table) -> bytes:
    """Render ``table`` as CSV rows (no header) for ``COPY ... (FORMAT csv)``.

    Nulls are written as empty unquoted fields and strings are always quoted, so
    PostgreSQL tells NULL from the empty string.
    """
    columns = []
    for name in table.column_names:
        col = table[name]
        if pa.types.is_list(col.type):
            col = pg_array_literal(_strip_nul_list(col))
        elif pa.types.is_string(col.type):
            # PostgreSQL text cannot hold NUL; the lake keeps the raw line verbatim.
            col = pc.replace_substring(col, "\x00", "")
        columns.append(col)
    rendered = pa.table(columns, names=table.column_names)
    sink = io.BytesIO()
    pcsv.write_csv(
        rendered,
        sink,
        write_options=pcsv.WriteOptions(include_header=False, quoting_style="needed"),
    )
    return sink.getvalue()
