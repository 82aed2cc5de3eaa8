"""Pages of raw events read back from the lake (read-only): an incident's events for days
the hot store no longer keeps.

Bounded by design: the scan's row filter (event time range, which prunes to the day
partitions and to the files and row groups whose bounds overlap, and the source
addresses) runs inside the scan; the first pass reads only the two sort keys and keeps at
most ``offset + limit`` of them; the second pass reads the shown columns of that page's
events only.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.expressions import And, BooleanExpression, In

from soc_platform.lake.iceberg import RAW_EVENTS, Lake, spans_filter

#: the order of a page (the hot store's: ``ORDER BY event_time, event_id``)
ORDER = [("event_time", "ascending"), ("event_id", "ascending")]


def event_page(
    lake: Lake,
    lo: datetime,
    hi: datetime,
    ips: Sequence[str],
    columns: Sequence[str],
    *,
    limit: int,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """The events with ``lo <= event_time <= hi`` from one of ``ips`` (every address when
    empty), oldest first, rows ``offset`` to ``offset + limit``, as dicts of ``columns`` (the
    hot store's row shape: times are UTC datetimes). No raw events table yet: no rows."""
    if limit < 1 or offset < 0:
        raise ValueError("limit must be at least 1 and offset at least 0")
    try:
        table = lake.table(RAW_EVENTS)
    except NoSuchTableError:
        return []
    where: BooleanExpression = spans_filter([(lo, hi)])
    if ips:
        by_source: BooleanExpression = In("client_ip", set(ips))  # type: ignore[call-arg]
        where = And(where, by_source)
    need = offset + limit
    with lake._reaching(f"reading {RAW_EVENTS}"):
        keys = _first_keys(
            table.scan(row_filter=where, selected_fields=("event_time", "event_id")), need
        )
        page = keys.slice(offset, limit)
        if page.num_rows == 0:
            return []
        ids = set(page["event_id"].to_pylist())
        times = page["event_time"].to_pylist()
        wanted = list(dict.fromkeys([*columns, "event_time", "event_id"]))
        by_id: BooleanExpression = In("event_id", ids)  # type: ignore[call-arg]
        rows = table.scan(
            row_filter=And(spans_filter([(times[0], times[-1])]), by_id),
            selected_fields=tuple(wanted),
        ).to_arrow()
    rows = rows.sort_by(ORDER)
    shown: list[dict[str, Any]] = rows.select(list(columns)).to_pylist()
    return shown


def _first_keys(scan: Any, need: int) -> pa.Table:
    """The first ``need`` (event_time, event_id) rows of ``scan`` in page order, streaming
    its record batches: never more than about twice ``need`` plus one batch in memory."""
    kept: pa.Table | None = None
    for batch in scan.to_arrow_batch_reader():
        if batch.num_rows == 0:
            continue
        part = pa.Table.from_batches([batch])
        kept = part if kept is None else pa.concat_tables([kept, part])
        if kept.num_rows > 2 * need:
            kept = kept.sort_by(ORDER).slice(0, need)
    if kept is None:
        return pa.table(
            {
                "event_time": pa.array([], pa.timestamp("us", tz="UTC")),
                "event_id": pa.array([], pa.string()),
            }
        )
    return kept.sort_by(ORDER).slice(0, need)
