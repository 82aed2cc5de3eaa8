"""Bulk parsing throughput of seed-format WAF JSON lines (lines/s, MB/s).

Measures the project's path from file bytes to canonical events, ``split_lines`` followed by
the ``waf_json`` parser (Arrow JSON reader, validation, ids, raw line), on N generated lines:
clean, and with a fraction (default 1%) of bad lines of every kind mixed in at random
positions. Ceiling: ``pyarrow.json.read_json`` alone on the same clean bytes, with the same
explicit input schema (default read options: 1 MB blocks, threads on); the ratio is
ours / ceiling in lines per second.

Then each WAF format (AWS WAF, ModSecurity v3, Cloudflare; ``--format-lines`` generated
records each): the whole path every source takes (``parsing.detect.parse_bytes``: layout,
format detection, parser, events with ids) against ``pyarrow.json.read_json`` of the same
bytes with that format's explicit input schema, in the same run.

    .venv/bin/python benchmarks/parse.py [--lines 200000] [--bad-fraction 0.01] [--per-kind]
        [--format-lines 100000] [--only-formats]
"""

import argparse
import io
from datetime import UTC, datetime

import pyarrow.json as pj
from _common import (
    BAD_KINDS,
    generate_events,
    header,
    line,
    mb,
    mix_bad_lines,
    parse_bytes,
    rate,
    repeat,
    to_lines,
)
from _formats import GENERATORS

from soc_platform.parsing import detect
from soc_platform.parsing.formats import aws_waf, cloudflare, modsecurity
from soc_platform.parsing.waf_json import INPUT_SCHEMA

#: the explicit schema Arrow reads each format with (its first variant)
FORMAT_SCHEMAS = {
    "aws_waf": aws_waf.INPUT_SCHEMA,
    "modsecurity": modsecurity.V3_SCHEMA,
    "cloudflare": cloudflare.VARIANTS[1],  # Datetime as unixnano, the API default
}


def arrow_ceiling(data: bytes):
    return pj.read_json(
        io.BytesIO(data),
        parse_options=pj.ParseOptions(
            explicit_schema=INPUT_SCHEMA, unexpected_field_behavior="ignore"
        ),
    )


def read_json(data: bytes, schema):
    return pj.read_json(
        io.BytesIO(data),
        parse_options=pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"),
    )


def bench_formats(n: int, repeats: int) -> None:
    header(f"parse: WAF formats, {n:,} records each, detect.parse_bytes vs read_json")
    for fmt, generate in GENERATORS.items():
        data = generate(n)
        schema = FORMAT_SCHEMAS[fmt]
        ceil_t, table = repeat(lambda data=data, schema=schema: read_json(data, schema),
                               repeats, warmup=1)  # fmt: skip
        assert table.num_rows == n
        now = datetime.now(UTC)
        ours_t, res = repeat(
            lambda data=data, src=f"bench.{fmt}", now=now: detect.parse_bytes(data, src, now),
            repeats,
            warmup=1,
        )
        assert res.events.num_rows == n, (fmt, res.dead_letter_counts())
        assert set(res.events["source_format"].to_pylist()) == {fmt}
        line(f"{fmt}: input", f"{mb(len(data)):.1f} MB ({len(data) / n:.0f} B/record)")
        line("  ceiling read_json", f"{rate(n, ceil_t.median)} lines/s {ceil_t.spread()}")
        line("  ours (detect + parse)", f"{rate(n, ours_t.median)} lines/s {ours_t.spread()}")
        line("  ratio ours/ceiling", f"{ceil_t.median / ours_t.median:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=200_000, help="generated lines (default 200000)")
    ap.add_argument("--bad-fraction", type=float, default=0.01, help="share of bad lines (0.01)")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs of clean/ceiling (median)")
    ap.add_argument("--dirty-repeats", type=int, default=1, help="timed runs of the dirty input")
    ap.add_argument(
        "--per-kind",
        action="store_true",
        help="also time the dirty input with one bad-line kind at a time (slow)",
    )
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--format-lines", type=int, default=50_000, help="records per WAF format")
    ap.add_argument("--only-formats", action="store_true", help="only the WAF formats")
    args = ap.parse_args()
    if not args.only_formats:
        bench_seed(args)
    bench_formats(args.format_lines, args.repeats)


def bench_seed(args: argparse.Namespace) -> None:

    header("parse: split_lines + waf_json parser")
    clean = to_lines(generate_events(args.lines, seed=args.seed))
    dirty, n_bad = mix_bad_lines(clean, args.bad_fraction)
    n = args.lines
    line("input", f"{n:,} lines, {mb(len(clean)):.1f} MB clean ({len(clean) / n:.0f} B/line)")

    ceil_t, table = repeat(lambda: arrow_ceiling(clean), args.repeats, warmup=1)
    assert table.num_rows == n
    ceil_lps = n / ceil_t.median
    line(
        "ceiling pyarrow.json.read_json (clean)",
        f"{rate(n, ceil_t.median)} lines/s, {mb(len(clean)) / ceil_t.median:.1f} MB/s "
        f"{ceil_t.spread()}",
    )

    clean_t, res = repeat(lambda: parse_bytes(clean), args.repeats, warmup=1)
    assert res.events.num_rows == n and res.dead_letters.num_rows == 0
    line(
        "ours, clean",
        f"{rate(n, clean_t.median)} lines/s, {mb(len(clean)) / clean_t.median:.1f} MB/s "
        f"{clean_t.spread()}",
    )
    line("  ratio ours/ceiling (clean)", f"{(n / clean_t.median) / ceil_lps:.2f}")

    dirty_t, res = repeat(lambda: parse_bytes(dirty), args.dirty_repeats)
    assert res.dead_letters.num_rows == n_bad, (res.dead_letters.num_rows, n_bad)
    line(
        f"ours, {args.bad_fraction:.0%} bad lines ({n_bad:,}, all kinds)",
        f"{rate(n, dirty_t.median)} lines/s, {mb(len(dirty)) / dirty_t.median:.1f} MB/s "
        f"{dirty_t.spread()}",
    )
    line("  ratio ours/ceiling (dirty vs clean ceiling)", f"{(n / dirty_t.median) / ceil_lps:.3f}")
    line("  slowdown dirty/clean", f"{dirty_t.median / clean_t.median:.1f}x")
    line("  dead letters by reason", str(res.dead_letter_counts()))

    if args.per_kind:
        for kind in BAD_KINDS:
            data, k = mix_bad_lines(clean, args.bad_fraction, kinds=[kind])
            t, res = repeat(lambda data=data: parse_bytes(data), 1)
            assert res.dead_letters.num_rows == k
            line(
                f"  only {kind} ({k:,})",
                f"{rate(n, t.median)} lines/s, {t.median:.2f} s, "
                f"{t.median / clean_t.median:.1f}x clean",
            )


if __name__ == "__main__":
    main()
