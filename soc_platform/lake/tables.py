"""Small Arrow table operations shared by the stores (pure)."""

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
