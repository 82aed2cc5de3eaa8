"""Iceberg append throughput of parsed events (rows/s), first append vs. idempotent re-append.

Parses N generated events (one UTC day) and appends them with ``Lake.append_events`` to a
fresh temp SqlCatalog (SQLite) + local file warehouse: first into the empty table (scan of
nothing, Parquet write, commit), then the same rows again (the dedupe path: scan of the
event_id column of the touched days, anti-join, nothing written). Ceiling: the same Arrow
table written once with ``pyarrow.parquet.write_table`` to a local file with the lake's
codec (zstd); the ratio is ours / ceiling in rows/s.

    .venv/bin/python benchmarks/lake.py [--events 200000] [--repeats 5]
"""

import argparse

import pyarrow.compute as pc
import pyarrow.parquet as pq
from _common import Timing, header, line, mb, parsed_events, rate, repeat, temp_dir, timed
from pyiceberg.expressions import And, GreaterThanOrEqual, LessThan

from soc_platform.days import days_range, event_days
from soc_platform.lake.iceberg import RAW_EVENTS, Lake, LakeConfig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200_000, help="events to append (200000)")
    ap.add_argument(
        "--repeats",
        type=int,
        default=5,
        help="timed runs (median) of each step; each first append uses a fresh lake",
    )
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    header("lake: Lake.append_events into Iceberg (SqlCatalog on SQLite, local warehouse)")
    events = parsed_events(args.events, seed=args.seed)
    n = events.num_rows
    line("input", f"{n:,} parsed events, {mb(events.nbytes):.1f} MB in Arrow memory")

    with temp_dir("lake") as tmp:

        def ceiling() -> int:
            path = tmp / "ceiling.parquet"
            pq.write_table(events, path, compression="zstd")
            return path.stat().st_size

        ceil_t, size = repeat(ceiling, args.repeats, warmup=1)
        line(
            "ceiling pyarrow.parquet.write_table (zstd)",
            f"{rate(n, ceil_t.median)} rows/s, {ceil_t.median:.3f} s, file {mb(size):.1f} MB "
            f"{ceil_t.spread()}",
        )

        firsts: list[float] = []
        seconds: list[float] = []
        lake = None
        for run in range(args.repeats + 1):  # run 0 warms imports/caches up, not counted
            lake = Lake(
                LakeConfig(
                    catalog_uri=f"sqlite:///{tmp}/cat{run}/catalog.db",
                    warehouse=f"file://{tmp}/wh{run}",
                )
            )
            lake.ensure_tables()
            dt1, first = timed(lambda lake=lake: lake.append_events(events))
            assert first.appended == n and first.duplicates == 0, first
            dt2, again = timed(lambda lake=lake: lake.append_events(events))
            assert again.appended == 0 and again.duplicates == n, again
            if run:
                firsts.append(dt1)
                seconds.append(dt2)
        first_t, second_t = Timing(firsts), Timing(seconds)
        files = list(lake.table(RAW_EVENTS).inspect.files().to_pylist())
        lake_bytes = sum(f["file_size_in_bytes"] for f in files)
        line(
            "ours, first append (empty table)",
            f"{rate(n, first_t.median)} rows/s, {first_t.median:.3f} s {first_t.spread()}",
        )
        line("  ratio ours/ceiling", f"{ceil_t.median / first_t.median:.2f}")
        line("  data files written", f"{len(files)} file(s), {mb(lake_bytes):.1f} MB")
        line(
            "ours, re-append of the same rows (all dupes)",
            f"{rate(n, second_t.median)} rows/s checked, {second_t.median:.3f} s "
            f"{second_t.spread()}",
        )

        # Where the re-append's time goes: the scan of existing ids (same day-window filter
        # as Lake.append_events) vs. the anti-join.
        table = lake.table(RAW_EVENTS)
        lo, hi = days_range(event_days(events["event_time"]))
        window = And(
            GreaterThanOrEqual("event_time", lo.isoformat()), LessThan("event_time", hi.isoformat())
        )
        scan_t, existing = repeat(
            lambda: table.scan(row_filter=window, selected_fields=("event_id",)).to_arrow()[
                "event_id"
            ],
            3,
        )
        join_t, _ = repeat(
            lambda: pc.is_in(events["event_id"], value_set=existing.combine_chunks()), 3
        )
        line(
            "  of which: scan of event_id column", f"{scan_t.median:.3f} s ({len(existing):,} ids)"
        )
        line("  of which: is_in anti-join", f"{join_t.median:.3f} s")


if __name__ == "__main__":
    main()
