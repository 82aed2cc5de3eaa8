"""Capacity table: events/day -> cores, memory, storage, lake files per day, computed from
measured figures (benchmarks/README.md and issue 12), for 1 GB, 100 GB and 1 TB of WAF
JSON lines a day. Every input is a flag, so a newer measurement replaces its default.

    .venv/bin/python benchmarks/capacity.py [--e2e-rate 8195] [--peak 3] ...

The defaults and where each was measured (2 vCPUs, this VM):
  --event-bytes 315      parse.py input: 200,000 seed-format lines = 63 MB
  --e2e-rate 8195        `soc-platform run`, events/s marginal on 2 cores (issue 12:
                         lake + hot + aggregates + correlation + index)
  --hot-rate 36437       hot_load.py: HotStore.load_events with the aggregate refresh,
                         rows/s (PostgreSQL and the client on 2 cores)
  --pack-rate 19756      correlation.py: 17,780 batch events / 0.90 s pack pass (2 conns)
  --lake-bytes 51        lake.py: 200,000 rows in a 10.2 MB zstd Parquet file
  --hot-bytes 415        waf_events rows + indexes per event (300,000 generated rows:
                         210 B table, 205 B indexes; aggregates not included)
  --run-bytes 3100       peak RSS per event of a run (issue 12: 3.10 GB for 1M events)
Assumptions (flags too): peak rate = 3x the day's average, a run per 60 s sensor tick
holds one interval of peak traffic, lake kept 365 days, hot store 90 days (the default
SOC_HOT_RETENTION_DAYS), compacted lake files of 128 MiB, PostgreSQL memory holding the
last 2 hours of hot rows at the peak rate (what the correlation and the dashboards
re-read; the rest of the hot store is on disk).
"""

import argparse
import math

GB = 1_000_000_000


def rows(args: argparse.Namespace) -> list[dict[str, str]]:
    out = []
    for label, volume in (("1 GB/day", 1 * GB), ("100 GB/day", 100 * GB), ("1 TB/day", 1000 * GB)):
        per_day = volume / args.event_bytes
        peak = per_day / 86_400 * args.peak
        # pipeline workers: the end-to-end marginal rate per core; PostgreSQL: the hot load
        # (COPY + aggregates) and the correlation pack per core, both from 2-core figures
        workers = peak / (args.e2e_rate / 2)
        pg = peak / (args.hot_rate / 2) + peak / (args.pack_rate / 2)
        run_mem = peak * args.interval * args.run_bytes
        hot_day = per_day * args.hot_bytes
        hot_recent = peak * args.cached_hours * 3600 * args.hot_bytes
        lake_day = per_day * args.lake_bytes
        files = max(1, math.ceil(lake_day / (args.target_file_mb * 2**20)))
        out.append(
            {
                "volume": label,
                "events/day": f"{per_day / 1e6:,.1f} M",
                "peak events/s": f"{peak:,.0f}",
                "pipeline cores": f"{max(1, math.ceil(workers))}",
                "PostgreSQL cores": f"{max(1, math.ceil(pg))}",
                "run memory": _bytes(max(run_mem, 0.5 * GB)),
                f"PostgreSQL memory ({args.cached_hours:g} h cached)": _bytes(
                    max(hot_recent, 1 * GB)
                ),
                "lake storage": _bytes(lake_day * args.lake_days),
                "hot storage": _bytes(hot_day * args.hot_days),
                "lake files/day": f"{files:,}",
            }
        )
    return out


def _bytes(n: float) -> str:
    for unit, size in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n:,.0f} B"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--event-bytes", type=float, default=315)
    ap.add_argument("--e2e-rate", type=float, default=8195)
    ap.add_argument("--hot-rate", type=float, default=36437)
    ap.add_argument("--pack-rate", type=float, default=19756)
    ap.add_argument("--lake-bytes", type=float, default=51)
    ap.add_argument("--hot-bytes", type=float, default=415)
    ap.add_argument("--run-bytes", type=float, default=3100)
    ap.add_argument("--peak", type=float, default=3.0)
    ap.add_argument("--interval", type=float, default=60)
    ap.add_argument("--lake-days", type=int, default=365)
    ap.add_argument("--hot-days", type=int, default=90)
    ap.add_argument("--target-file-mb", type=float, default=128)
    ap.add_argument("--cached-hours", type=float, default=2)
    table = rows(ap.parse_args())
    cols = list(table[0])
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for row in table:
        print("| " + " | ".join(row[c] for c in cols) + " |")


if __name__ == "__main__":
    main()
