"""Per-batch growth of the lake: a 10k-event batch into a day already holding 0 .. 5M events,
stage by stage, as a ratio to the same batch into an empty day; then the 200-batch day
before and after compaction against the same rows in one file.

Stages (each the median of --repeats fresh batches, new event ids, in the day's last hour):
  dedupe       the lake's dedupe read (event_id within the batch's time span, pruned by
               the files' event_time bounds) -- what ``Lake.append_events`` reads
  dedupe(old)  the read the lake did before issue 12: every event_id of the touched day
  append       the whole ``Lake.append_events`` (dedupe, Parquet write, commit)
  check        the lake side of the blocking lake-vs-hot check (``Lake.count_events_in``
               over the batch's spans; the hot side is an index range count)

The day is filled in time order in chunks of --chunk events (as micro-batches do, one file
per chunk, then compacted by ``Lake.compact_day``). The goal (issue 12): every stage
<= 1.2x the empty day at 2M. The plot (--png, git-ignored) shows the growth law.

Compaction (--batches small appends of --batch-events into one day): files, snapshots and
the time to read the day's event_id column, before and after ``Lake.maintain``, against
the same rows appended once (one file). Goal: after compaction within 1.5x of one file.

    .venv/bin/python benchmarks/growth.py [--sizes 0,500000,2000000,5000000] [--max N]
"""

import argparse
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from _common import DAY_START, header, line, parsed_events, temp_dir, timed

from soc_platform.days import days_range
from soc_platform.lake.iceberg import RAW_EVENTS, Lake, LakeConfig, _time_window, spans_filter
from soc_platform.lake.tables import time_spans
from soc_platform.models import LAKE_EVENT_SCHEMA

STAGES = ("dedupe", "dedupe(old)", "append", "check")


def synthetic(template: pa.Table, n: int, start: float, end: float, tag: str) -> pa.Table:
    """``n`` events cloned from ``template`` with unique ids and times spread evenly over
    [start, end) seconds after DAY_START (bulk Arrow, no parsing)."""
    idx = np.arange(n)
    rows = template.take(pa.array(idx % template.num_rows))
    micros = (start + (end - start) * idx / max(n, 1)) * 1_000_000
    base = int(DAY_START.timestamp() * 1_000_000)
    times = pa.array(base + micros.astype(np.int64), pa.int64()).cast(pa.timestamp("us", "UTC"))
    ids = pc.binary_join_element_wise(tag, pa.array(idx.astype(str)), "")
    rows = rows.set_column(rows.schema.get_field_index("event_id"), "event_id", ids)
    rows = rows.set_column(rows.schema.get_field_index("event_time"), "event_time", times)
    return rows.cast(LAKE_EVENT_SCHEMA)


def fill(lake: Lake, template: pa.Table, n: int, chunk: int) -> None:
    """``n`` events over the day's first 23 hours, appended in time order in chunks."""
    done = 0
    while done < n:
        size = min(chunk, n - done)
        lo = 23 * 3600 * done / n
        hi = 23 * 3600 * (done + size) / n
        lake.append_events(synthetic(template, size, lo, hi, f"fill{done}-"))
        done += size
    if n:
        lake.compact_day(DAY_START.date(), target_bytes=1 << 40)


def measure(
    lake: Lake, template: pa.Table, batch: int, repeats: int, label: str
) -> dict[str, float]:
    out: dict[str, list[float]] = {s: [] for s in STAGES}
    for r in range(repeats + 1):  # the first is a warm-up
        hour = 23 * 3600 + r * 300
        events = synthetic(template, batch, hour, hour + 240, f"{label}-b{r}-")
        times = _one_batch(lake, events)
        if r:
            for stage, t in zip(STAGES, times, strict=True):
                out[stage].append(t)
    return {s: float(np.median(v)) for s, v in out.items()}


def _one_batch(lake: Lake, events: pa.Table) -> tuple[float, float, float, float]:
    spans = time_spans(events["event_time"])
    table = lake.table(RAW_EVENTS)
    whole_day = _time_window(*days_range([DAY_START.date()]))
    new_scan = table.scan(row_filter=spans_filter(spans), selected_fields=("event_id",))
    t_dedupe, _ = timed(new_scan.to_arrow)
    t_old, _ = timed(table.scan(row_filter=whole_day, selected_fields=("event_id",)).to_arrow)
    t_append, result = timed(lambda: lake.append_events(events))
    assert result.appended == events.num_rows, result
    t_check, counted = timed(lambda: lake.count_events_in(spans))
    assert counted == events.num_rows, counted
    return t_dedupe, t_old, t_append, t_check


def compaction(tmp: Path, template: pa.Table, batches: int, per: int, repeats: int) -> None:
    small = Lake(LakeConfig(f"sqlite:///{tmp / 'small.db'}", (tmp / "small").as_uri()))
    one = Lake(LakeConfig(f"sqlite:///{tmp / 'one.db'}", (tmp / "one").as_uri()))
    for lake in (small, one):
        lake.ensure_tables()
    every = []
    for b in range(batches):
        lo = 23 * 3600 * b / batches
        rows = synthetic(template, per, lo, lo + 23 * 3600 / batches, f"c{b}-")
        small.append_events(rows)
        every.append(rows)
    one.append_events(pa.concat_tables(every))
    day = DAY_START.date()

    def reads(a: Lake, b: Lake) -> tuple[float, float]:
        """Median read times of the day's event_id column, the two lakes interleaved (the
        machine's noise hits both alike)."""
        ta, tb = [], []
        for _ in range(max(repeats, 7)):
            ta.append(timed(lambda: a.read_events(day, day, columns=("event_id",)))[0])
            tb.append(timed(lambda: b.read_events(day, day, columns=("event_id",)))[0])
        return float(np.median(ta)), float(np.median(tb))

    def files(lake: Lake) -> tuple[int, int, int]:
        table = lake.table(RAW_EVENTS)
        meta = Path(table.location().removeprefix("file://")) / "metadata"
        data = Path(table.location().removeprefix("file://")) / "data"
        return (
            len(table.snapshots()),
            sum(1 for p in data.rglob("*.parquet")),
            sum(1 for p in meta.iterdir()),
        )

    t_one, t_before = reads(one, small)
    s, d, m = files(small)
    line(
        f"{batches} batches of {per}: before", f"{s} snapshots, {d} data files, {m} metadata files"
    )
    line("  read event_id: one file", f"{t_one:.3f} s")
    line("  read event_id: before compaction", f"{t_before:.3f} s ({t_before / t_one:.2f}x)")
    t_maint, report = timed(lambda: small.maintain(retention=timedelta(0), grace=timedelta(0)))
    t_one, t_after = reads(one, small)
    s, d, m = files(small)
    (c,) = report.compacted
    line(
        "  maintain (compact, expire, orphans)",
        f"{t_maint:.2f} s ({c.files_before} -> {c.files_after} files)",
    )
    line("  after", f"{s} snapshots, {d} data files, {m} metadata files")
    verdict = "met" if t_after / t_one <= 1.5 else "MISSED"
    line(
        "  read event_id: after compaction",
        f"{t_after:.3f} s ({t_after / t_one:.2f}x of one file; goal <= 1.5x: {verdict})",
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="0,500000,2000000,5000000")
    ap.add_argument("--max", type=int, default=None, help="drop sizes above this (quick runs)")
    ap.add_argument("--batch", type=int, default=10_000)
    ap.add_argument("--chunk", type=int, default=250_000, help="fill chunk (one file each)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batches", type=int, default=200, help="compaction: small appends")
    ap.add_argument("--batch-events", type=int, default=1000)
    ap.add_argument("--png", default=str(Path(__file__).parent / "growth.png"))
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.max is not None:
        sizes = [s for s in sizes if s <= args.max]

    header(f"growth: a {args.batch:,}-event batch into a day holding {sizes} events")
    template = parsed_events(20_000, seed=7)
    results: dict[int, dict[str, float]] = {}
    with temp_dir("growth") as tmp:
        for size in sizes:
            lake = Lake(LakeConfig(f"sqlite:///{tmp / f'g{size}.db'}", (tmp / f"g{size}").as_uri()))
            lake.ensure_tables()
            t_fill, _ = timed(lambda lake=lake, size=size: fill(lake, template, size, args.chunk))
            results[size] = measure(lake, template, args.batch, args.repeats, f"s{size}")
            files = lake.files_per_day().get(DAY_START.date(), 0)
            line(f"day of {size:,} events", f"filled in {t_fill:.1f} s, {files} file(s)")
            first = results[sizes[0]]
            line(
                "  " + ", ".join(STAGES),
                ", ".join(
                    f"{results[size][s]:.3f} s ({results[size][s] / first[s]:.2f}x)" for s in STAGES
                ),
            )
        base = results[sizes[0]]
        print(f"\n{'events in day':>14} " + " ".join(f"{s:>22}" for s in STAGES))
        for size in sizes:
            cells = [
                f"{results[size][s]:.3f} s ({results[size][s] / base[s]:5.2f}x)" for s in STAGES
            ]
            print(f"{size:>14,} " + " ".join(f"{c:>22}" for c in cells))
        at2m = next((s for s in sizes if s >= 2_000_000), None)
        if at2m is not None and sizes[0] == 0:
            worst = max(results[at2m][s] / base[s] for s in STAGES if s != "dedupe(old)")
            verdict = "met" if worst <= 1.2 else "MISSED"
            line(f"\nworst stage at {at2m:,} (new code)", f"{worst:.2f}x (goal <= 1.2x: {verdict})")
        _plot(results, sizes, base, args.png)
        print()
        compaction(tmp, template, args.batches, args.batch_events, args.repeats)


def _plot(
    results: dict[int, dict[str, float]], sizes: list[int], base: dict[str, float], png: str
) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        line("plot", "matplotlib is not installed (uv sync --dev): no PNG")
        return
    fig, ax = plt.subplots(figsize=(7, 4))
    for stage in STAGES:
        ax.plot(
            [s / 1e6 for s in sizes],
            [results[s][stage] / base[stage] for s in sizes],
            marker="o",
            label=stage,
        )
    ax.axhline(1.2, color="grey", linestyle="--", label="goal 1.2x")
    ax.set_xlabel("events already in the day (millions)")
    ax.set_ylabel("time / time into an empty day")
    ax.set_title("lake: cost of a 10k-event batch as the day fills")
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    line("plot", png)


if __name__ == "__main__":
    main()
