"""Embedded incident search latency (EmbeddedSearch.search: PostgreSQL full text + pg_trgm).

At each size (default 1k, 20k and 100k) incidents are built with the project's own code
(``build_incident`` from synthetic rule matches spread over 30 days, three rule kinds, 20%
from 192.168.x.x clients, search text from ``search_text``) and inserted with
``HotStore.upsert_incidents``.
Then 20 queries of each kind (free text, typo, IP prefix, filtered; after one warm-up
query), each through ``EmbeddedSearch.search`` exactly as the CLI and UI call it (new
connection per query): p50/p95 per kind and size, the growth from the smallest to the
largest size, and the ratio to the floor measured in the same cluster (a new connection
through ``HotStore.connect`` plus ``SELECT 1``, the fixed cost every search pays).

    .venv/bin/python benchmarks/search.py [--sizes 1000,20000,100000] [--queries 20] [--json]
"""

import argparse
import json
import random
from datetime import timedelta

import psycopg
from _common import DAY_END, header, line, percentile, pg_cluster, timed

from soc_platform.correlation.detection import default_detection
from soc_platform.correlation.incidents import build_incident, search_text
from soc_platform.hot.store import HotPolicy, HotStore
from soc_platform.models import Incident
from soc_platform.search.backends import EmbeddedSearch
from soc_platform.sources.synth import HOSTS, LFI_RULES, SQLI_RULES, XSS_RULES

# Three rules of the built-in pack, to give the incident texts some variety.
PACK = default_detection()
SQLI_BURST = PACK.rules.rule("waf-sqli-burst")
XSS_BURST = PACK.rules.rule("waf-xss-burst")
LFI_BURST = PACK.rules.rule("waf-path-traversal")
KINDS = [
    (SQLI_BURST, SQLI_RULES, ["/products", "/search", "/login", "/api/v1/items"]),
    (XSS_BURST, XSS_RULES, ["/search", "/comments", "/profile"]),
    (LFI_BURST, LFI_RULES, ["/download", "/static/../../etc/passwd", "/files"]),
]


def make_incidents(n: int, seed: int) -> list[Incident]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        rule, rule_ids, paths = rng.choices(KINDS, weights=[6, 2, 2])[0]
        if rng.random() < 0.2:
            ip = f"192.168.{rng.randint(0, 255)}.{rng.randint(2, 254)}"
        else:
            ip = (
                f"{rng.choice([23, 45, 62, 89, 104, 185, 203])}.{rng.randint(0, 255)}."
                f"{rng.randint(0, 255)}.{rng.randint(1, 254)}"
            )
        window = (DAY_END - timedelta(minutes=5 * rng.randint(1, 30 * 288))).replace(second=0)
        start = window + timedelta(seconds=rng.randint(0, 100))
        count = rng.randint(int(rule.threshold), 200)
        blocked = count if rng.random() < 0.7 else rng.randint(0, count)
        targets = sorted({rng.choice(HOSTS) + rng.choice(paths) for _ in range(rng.randint(1, 5))})
        match = {
            "group_key": ip,
            "sources": [ip],
            "source_count": 1,
            "window_start": window,
            "start_time": start,
            "end_time": start + timedelta(seconds=rng.randint(10, 190)),
            "event_count": count,
            "blocked_count": blocked,
            "rule_ids": sorted({str(r[0]) for r in rng.sample(rule_ids, k=min(2, len(rule_ids)))}),
            "targets": targets,
        }
        out.append(
            build_incident(rule, match, window_end=window + rule.timespan, context=PACK.context)
        )
    return out


def make_queries(incidents: list[Incident], count: int, seed: int) -> list[tuple[str, str]]:
    """``count`` queries of each kind: free text, typo, IP prefix, filtered."""
    rng = random.Random(seed)
    ips = [i.client_ip for i in incidents]
    kinds = [
        (
            "free text",
            lambda: rng.choice(
                [
                    "blocked attempts from 192.168",
                    "sql injection shop.example.com",
                    "traversal /download",
                    "xss not blocked",
                ]
            ),
        ),
        ("typo", lambda: rng.choice(["sql injecton", "path travesal", "scriptng attempts"])),
        ("ip prefix", lambda: ".".join(rng.choice(ips).split(".")[:2])),
        (
            "filtered",
            lambda: rng.choice(
                [
                    "status:open severity:>=high ip:192.168.0.0/16",
                    "rule:waf-xss-burst technique:T1059.007 blocked",
                    "severity:critical sql injection",
                    f"ip:{rng.choice(ips)}",
                ]
            ),
        ),
    ]
    return [(kind, make()) for kind, make in kinds for _ in range(count)]


def run_size(n: int, queries: int, seed: int) -> list[dict[str, object]]:
    """Store ``n`` incidents in a fresh cluster and time every query kind over them."""
    incidents = make_incidents(n, seed)
    docs = [search_text(i) for i in incidents]
    rows: list[dict[str, object]] = []
    with pg_cluster("search") as (_server, dsn):
        hot = HotStore(dsn, policy=HotPolicy(retention_days=0))  # a past day: keep it
        hot.setup()
        for start in range(0, n, 10_000):
            hot.upsert_incidents(incidents[start : start + 10_000], docs[start : start + 10_000])
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE incidents")

        def floor() -> None:
            with hot.connect() as conn:
                conn.execute("SELECT 1").fetchone()

        floor_runs = [timed(floor)[0] for _ in range(queries)]
        rows.append(_row(n, "floor (connect + SELECT 1)", floor_runs, []))
        search = EmbeddedSearch(hot)
        search.search("warm up")
        results: dict[str, list[tuple[float, int]]] = {}
        with hot.connect() as conn:
            kept = EmbeddedSearch(hot, conn)  # the query cost alone (the UI keeps its connection)
            for kind, q in make_queries(incidents, queries, seed):
                dt, hits = timed(lambda q=q: kept.search(q))
                results.setdefault(kind, []).append((dt, len(hits)))
                dt, _ = timed(lambda q=q: search.search(q))
                results.setdefault(f"{kind} + connect", []).append((dt, len(hits)))
        for kind, runs in results.items():
            rows.append(_row(n, kind, [dt for dt, _ in runs], [h for _, h in runs]))
    return rows


def _row(n: int, kind: str, times: list[float], hits: list[int]) -> dict[str, object]:
    return {
        "incidents": n,
        "kind": kind,
        "p50_ms": round(percentile(times, 50) * 1e3, 2),
        "p95_ms": round(percentile(times, 95) * 1e3, 2),
        "hits": f"{min(hits)}-{max(hits)}" if hits else "",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--sizes", default="1000,20000,100000", help="incident counts (1000,20000,100000)"
    )
    ap.add_argument("--queries", type=int, default=20, help="timed queries per kind (20)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = [row for n in sizes for row in run_size(n, args.queries, args.seed)]
    if args.json:
        print(
            json.dumps([{k: r[k] for k in ("incidents", "kind", "p50_ms", "p95_ms")} for r in rows])
        )
        return
    header("search: EmbeddedSearch.search over the incidents table (goal: p95 <= 20 ms)")
    for r in rows:
        line(
            f"{r['incidents']:>7,} {r['kind']}",
            f"p50 {r['p50_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms"
            + (f", hits {r['hits']}" if r["hits"] else ""),
        )
    # the growth: p95 at the largest size over p95 at the smallest, per kind, and the
    # ratio of each kind's p95 to the floor measured in the same cluster
    first, last = sizes[0], sizes[-1]
    p95 = {(r["incidents"], r["kind"]): float(str(r["p95_ms"])) for r in rows}
    for kind in dict.fromkeys(str(r["kind"]) for r in rows):
        if kind.startswith("floor") or kind.endswith("connect"):
            continue
        floor = p95[(last, "floor (connect + SELECT 1)")]
        line(
            f"  growth {kind} {first:,} -> {last:,}",
            f"x{p95[(last, kind)] / max(p95[(first, kind)], 0.01):.2f}; "
            f"ratio p95/floor at {last:,}: {p95[(last, kind)] / max(floor, 0.01):.1f}",
        )


if __name__ == "__main__":
    main()
