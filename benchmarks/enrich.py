"""Enrichment throughput: ASN, AS organisation, country and host criticality (rows/s).

Measures ``enrich_events`` over N parsed events (default 200,000 generated seed-format
events; one client address per 40 events, as ``synth`` draws them, so about 5,000
distinct addresses) with the embedded DB-IP Lite databases (decompressed once into a temp
data dir, read with maxminddb's C reader) and a three-host asset-criticality map. A second
run spreads the same rows over 10x as many distinct addresses (``--distinct-factor``): the
lookups, not the rows, are the cost. **Ceiling:** a bare Arrow pass over the same column,
``pc.dictionary_encode`` + ``take`` of the distinct values (what enrichment does around its
lookups); the ratio is ours / ceiling in rows/s.

    .venv/bin/python benchmarks/enrich.py [--events 200000] [--repeats 5]
"""

import argparse
import ipaddress
import random

import pyarrow as pa
import pyarrow.compute as pc
from _common import header, line, parsed_events, rate, repeat, temp_dir

from soc_platform.correlation.assets_map import AssetCriticality
from soc_platform.enrich import enrich_events
from soc_platform.enrich.mmdb import lookup_of
from soc_platform.settings import load_settings

ASSETS = AssetCriticality(
    hosts={"shop.example.com": "critical", "api.example.com": "high"}, default="medium"
)


def bare_pass(events: pa.Table) -> pa.Array:
    encoded = pc.dictionary_encode(events["client_ip"].combine_chunks())
    return encoded.dictionary.take(encoded.indices)


def wider(events: pa.Table, factor: int, seed: int) -> pa.Table:
    """The same rows, their addresses spread over ``factor`` times as many public ones."""
    rng = random.Random(seed)
    pool = []
    while len(pool) < factor * pc.count_distinct(events["client_ip"]).as_py():
        address = ipaddress.IPv4Address(rng.getrandbits(32))
        if address.is_global:
            pool.append(str(address))
    ips = pa.array([rng.choice(pool) for _ in range(events.num_rows)], pa.string())
    return events.set_column(events.column_names.index("client_ip"), "client_ip", ips)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--distinct-factor", type=int, default=10)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    header("enrich: ASN + country (embedded DB-IP Lite) + host criticality")
    events = parsed_events(args.events, seed=args.seed)
    with temp_dir("enrich") as tmp:
        settings = load_settings({"SOC_DATA_DIR": str(tmp)})
        db = lookup_of(settings)
        assert db is not None
        with db:
            for label, table in (
                ("synth addresses", events),
                (
                    f"{args.distinct_factor}x distinct",
                    wider(events, args.distinct_factor, args.seed),
                ),
            ):
                distinct = pc.count_distinct(table["client_ip"]).as_py()
                ours, out = repeat(lambda t=table: enrich_events(t, db, ASSETS), args.repeats, 1)
                ceiling, _ = repeat(lambda t=table: bare_pass(t), args.repeats, 1)
                hits = out["source_as_number"].null_count
                n = table.num_rows
                line(f"{label}: input", f"{n:,} rows, {distinct:,} distinct client IPs")
                line(
                    "  enrich_events",
                    f"{ours.median * 1000:.1f} ms = {rate(n, ours.median)} rows/s, "
                    f"{rate(distinct, ours.median)} lookups/s {ours.spread()}",
                )
                line(
                    "  ceiling: dictionary_encode + take",
                    f"{ceiling.median * 1000:.1f} ms = {rate(n, ceiling.median)} rows/s",
                )
                line("  ratio (ours / ceiling, rows/s)", f"{ceiling.median / ours.median:.3f}")
                line("  rows with an AS number", f"{n - hits:,} of {n:,}")


if __name__ == "__main__":
    main()
