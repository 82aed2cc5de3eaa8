"""Correlation pass time (pipeline.correlate) over a hot table of N events.

N generated events spread over one UTC day (``--days`` spreads them over more days, one
partition each), plus a few extra SQL-injection bursts, are loaded into the hot store
(HotStore.load_events). Then a generated micro-batch (its own burst
included) over the day's last minutes is loaded too, and ``pipeline.correlate`` evaluates the
SQLi-burst rule over exactly the windows that batch touched plus the rule's lookback before
``now`` (the end of the day): time per pass, median of 5. For scale, the same over every window
of the day (the whole table's event times, as a backfill would). Each pass includes the
incident upsert (a no-op rewrite after the first pass). Finally an EXPLAIN (ANALYZE, BUFFERS)
of the rule query (sql/queries/rule_sqli_burst.sql) for the batch's windows, in short, and,
as a diagnostic only, the same query with constant time bounds (first window start, last
window end) added to its join condition, to show what partition pruning and the event_time
index would give.

No physical ceiling is printed: the figure to compare against is the batch interval.

    .venv/bin/python benchmarks/correlation.py [--events 500000] [--bursts 4] \\
        [--batch-events 5000] [--batch-minutes 15]
"""

import argparse
import json
from datetime import timedelta

import psycopg
import pyarrow as pa
from _common import (
    DAY_END,
    checkpoint,
    generate_events,
    header,
    line,
    parse_bytes,
    parsed_events,
    pg_cluster,
    pg_version,
    rate,
    repeat,
    timed,
    to_lines,
)
from psycopg import sql as pgsql
from soc_platform.correlation.rules import SQLI_BURST

from soc_platform import engine, sql
from soc_platform.buckets import event_days
from soc_platform.correlation.windows import merge_windows, recent_windows, touched_windows
from soc_platform.stores.hot import HotPolicy, HotStore


def plan_lines(node: dict, depth: int = 0, out: list[str] | None = None) -> list[str]:
    """One short line per plan node: type, relation/index, rows x loops, time, buffers."""
    out = [] if out is None else out
    what = node["Node Type"]
    if node.get("Index Name"):
        what += f" using {node['Index Name']}"
    if node.get("Relation Name"):
        what += f" on {node['Relation Name']}"
    rows = node.get("Actual Rows", 0)
    loops = node.get("Actual Loops", 1)
    t = node.get("Actual Total Time", 0.0)
    hit, read = node.get("Shared Hit Blocks", 0), node.get("Shared Read Blocks", 0)
    extra = ""
    if node.get("Rows Removed by Filter"):
        extra += f", removed by filter {node['Rows Removed by Filter']:,}"
    if node.get("Sort Method"):
        extra += f", sort {node['Sort Method']} {node.get('Sort Space Used', '?')} kB"
    out.append(
        f"{'  ' * depth}{what}: rows {rows:,} x {loops:,} loops, {t:,.1f} ms, "
        f"buffers hit {hit:,} read {read:,}{extra}"
    )
    for child in node.get("Plans", []):
        plan_lines(child, depth + 1, out)
    return out


def scanned_partitions(node: dict) -> set[str]:
    found = {node["Relation Name"]} if node.get("Relation Name") else set()
    for child in node.get("Plans", []):
        found |= scanned_partitions(child)
    return found


def explain(
    dsn: str, params: dict, query: pgsql.Composable | None = None
) -> tuple[dict, list[str]]:
    query = pgsql.SQL("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ") + (
        query or sql.query(SQLI_BURST.query)
    )
    with psycopg.connect(dsn) as conn:
        raw = conn.execute(query, params).fetchone()[0]
    doc = raw[0] if isinstance(raw, list) else json.loads(raw)[0]
    return doc, plan_lines(doc["Plan"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=500_000, help="events in the hot table (500000)")
    ap.add_argument("--days", type=int, default=1, help="days the events are spread over (1)")
    ap.add_argument("--bursts", type=int, default=4, help="extra SQLi bursts over the day (4)")
    ap.add_argument("--batch-events", type=int, default=5_000, help="micro-batch size (5000)")
    ap.add_argument("--batch-minutes", type=int, default=15, help="micro-batch span (15)")
    ap.add_argument("--repeats", type=int, default=5, help="timed passes (median of 5)")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    header("correlation: pipeline.correlate (SQLi burst rule) over the touched windows")
    per_day = args.events // args.days
    base = pa.concat_tables(
        [
            parsed_events(
                per_day,
                seed=args.seed + d,
                bursts=args.bursts if d == 0 else 0,
                end=DAY_END - timedelta(days=d),
            )
            for d in range(args.days)
        ]
    )
    batch_raw = generate_events(
        args.batch_events, minutes=args.batch_minutes, seed=args.seed + 1, end=DAY_END
    )
    batch = parse_bytes(to_lines(batch_raw), "batch.jsonl").events
    now = DAY_END
    line(
        "input",
        f"{base.num_rows:,} events over {args.days} day(s) "
        f"(incl. {args.bursts} extra bursts), "
        f"micro-batch of {batch.num_rows:,} over the last {args.batch_minutes} min",
    )

    with pg_cluster("corr") as (_server, dsn):
        line("server", f"PostgreSQL {pg_version(dsn)}")
        hot = HotStore(dsn, policy=HotPolicy(retention_days=0))  # a past day: keep it
        hot.setup()
        load_t, res = timed(lambda: hot.load_events(base))
        line(
            "hot table loaded (HotStore.load_events)",
            f"{res.inserted:,} rows in {load_t:.1f} s ({rate(res.inserted, load_t)} rows/s)",
        )
        res = hot.load_events(batch)
        line("micro-batch loaded", f"{res.inserted:,} rows")
        checkpoint(dsn)

        batch_windows = merge_windows(
            touched_windows(batch["event_time"], SQLI_BURST.window, SQLI_BURST.hop),
            recent_windows(now, SQLI_BURST.lookback, SQLI_BURST.window, SQLI_BURST.hop),
        )
        t, report = repeat(
            lambda: engine.correlate(hot, batch["event_time"], now=now), args.repeats
        )
        # the planned windows, their neighbours, and the neighbours of firing windows
        assert report.windows_evaluated >= len(batch_windows)
        line(
            "batch pass: correlate(batch event times)",
            f"{t.median * 1e3:.1f} ms per pass {t.spread()}",
        )
        line(
            "  windows evaluated / incidents",
            f"{report.windows_evaluated} windows, {len(report.incidents)} incident(s) "
            f"{sorted({i.client_ip for i in report.incidents})}",
        )

        all_times = base["event_time"]
        t_day, day_report = repeat(
            lambda: engine.correlate(hot, all_times, now=now), args.repeats
        )
        line(
            "whole-table pass: correlate(all event times)",
            f"{t_day.median * 1e3:.1f} ms per pass {t_day.spread()}",
        )
        line(
            "  windows evaluated / incidents",
            f"{day_report.windows_evaluated} windows, {len(day_report.incidents)} incident(s)",
        )

        def span_params(windows: list) -> dict:
            return {
                "span_starts": windows,
                "span_ends": [w + SQLI_BURST.window for w in windows],
                "span_groups": [None] * len(windows),
                "threshold": SQLI_BURST.threshold,
                "lo": min(windows),
                "hi": max(windows) + SQLI_BURST.window,
            }

        params = span_params(batch_windows)
        doc, lines_ = explain(dsn, params)
        print(
            f"EXPLAIN (ANALYZE, BUFFERS) rule_sqli_burst, {len(batch_windows)} batch windows: "
            f"planning {doc['Planning Time']:.1f} ms, execution {doc['Execution Time']:.1f} ms"
        )
        for text in lines_:
            print("  " + text)
        parts = scanned_partitions(doc["Plan"])
        line(
            "  partitions read for the batch windows",
            f"{len(parts)} of {len(event_days(base['event_time']))} day partition(s)",
        )
        day_windows_ = touched_windows(all_times, SQLI_BURST.window, SQLI_BURST.hop)
        doc, _ = explain(dsn, span_params(day_windows_))
        print(
            f"EXPLAIN rule_sqli_burst, {len(day_windows_)} whole-table windows: "
            f"execution {doc['Execution Time']:.1f} ms, top node "
            f"{doc['Plan']['Node Type']} rows {doc['Plan']['Actual Rows']}"
        )


if __name__ == "__main__":
    main()
