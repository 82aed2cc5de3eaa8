"""Small Arrow table operations shared by the stores (pure)."""

from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc


def first_per_key(rows: pa.Table, key: str) -> pa.Table:
    """Keep the first row of each ``key`` value, in the original order."""
    if rows.num_rows == 0 or pc.count_distinct(rows[key]).as_py() == rows.num_rows:
        return rows
    indexed = rows.append_column("__row", pa.array(range(rows.num_rows), pa.int64()))
    first = indexed.group_by(key, use_threads=False).aggregate([("__row", "min")])
    firsts = first["__row_min"].combine_chunks()
    return rows.take(firsts.take(pc.array_sort_indices(firsts)))


def time_spans(times: pa.Array | pa.ChunkedArray) -> list[tuple[datetime, datetime]]:
    """Per UTC day of a timestamp column, its [first, last] time (inclusive), sorted."""
    if len(times) == 0:
        return []
    t = pa.table({"t": times, "d": pc.cast(pc.floor_temporal(times, unit="day"), pa.date32())})
    spans = t.group_by("d", use_threads=False).aggregate([("t", "min"), ("t", "max")])
    return sorted(zip(spans["t_min"].to_pylist(), spans["t_max"].to_pylist(), strict=True))
