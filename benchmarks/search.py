"""Embedded incident search latency (EmbeddedSearch.search: PostgreSQL full text + pg_trgm).

N incidents (default 20k) are built with the project's own code (``build_incident`` from
synthetic rule matches spread over 30 days, three rule kinds, 20% from 192.168.x.x clients,
search text from ``search_text``) and inserted with ``HotStore.upsert_incidents`` (timed too).
Then 50 queries of five kinds (10 each, after one warm-up query), each through
``EmbeddedSearch.search`` exactly as the CLI and API call it (new connection per query):
p50/p95 per kind and overall, and the hit counts. Floor, measured in the same run: a new
connection through ``HotStore.connect`` plus ``SELECT 1`` (the fixed cost every search
pays); the ratio is search p50 / floor p50.

    .venv/bin/python benchmarks/search.py [--incidents 20000] [--queries 50]
"""

import argparse
import random
from datetime import timedelta

import psycopg
from _common import DAY_END, header, line, percentile, pg_cluster, pg_version, rate, timed
from psycopg import sql as pgsql

from soc_platform import sql
from soc_platform.correlation.detection import default_detection
from soc_platform.correlation.incidents import build_incident, search_text
from soc_platform.hot.store import HotPolicy, HotStore
from soc_platform.models import Incident
from soc_platform.search.backends import EmbeddedSearch, query_terms
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
    rng = random.Random(seed)
    ips = [i.client_ip for i in incidents]
    lan = [ip for ip in ips if ip.startswith("192.168.")]
    kinds = [
        ("phrase", lambda: "blocked attempts from 192.168"),
        ("typo", lambda: rng.choice(["sql injecton", "path travesal", "scriptng attempts"])),
        ("ip prefix", lambda: ".".join(rng.choice(ips).split(".")[:2])),
        ("exact ip", lambda: rng.choice(lan)),
        (
            "words",
            lambda: rng.choice(
                [
                    "sql injection shop.example.com",
                    "high T1190",
                    "traversal /download",
                    "xss not blocked",
                ]
            ),
        ),
    ]
    return [(kinds[i % len(kinds)][0], kinds[i % len(kinds)][1]()) for i in range(count)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--incidents", type=int, default=20_000, help="incidents stored (20000)")
    ap.add_argument("--queries", type=int, default=50, help="timed queries (50)")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    header("search: EmbeddedSearch.search over the incidents table")
    incidents = make_incidents(args.incidents, args.seed)
    docs = [search_text(i) for i in incidents]
    assert len({i.id for i in incidents}) == len(incidents)
    line(
        "input",
        f"{len(incidents):,} incidents, search_doc avg {sum(map(len, docs)) / len(docs):.0f} chars",
    )

    with pg_cluster("search") as (_server, dsn):
        line("server", f"PostgreSQL {pg_version(dsn)}")
        hot = HotStore(dsn, policy=HotPolicy(retention_days=0))  # a past day: keep it
        hot.setup()
        up_t, result = timed(lambda: hot.upsert_incidents(incidents, docs))
        line(
            "HotStore.upsert_incidents (insert)",
            f"{rate(len(incidents), up_t)} incidents/s, {up_t:.2f} s ({result.changed:,} rows)",
        )
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE incidents")

        def floor() -> None:
            with hot.connect() as conn:
                conn.execute("SELECT 1").fetchone()

        floor_runs = [timed(floor)[0] for _ in range(args.queries)]
        f50 = percentile(floor_runs, 50)
        line(
            "floor: HotStore.connect + SELECT 1",
            f"p50 {f50 * 1e3:.1f} ms, p95 {percentile(floor_runs, 95) * 1e3:.1f} ms",
        )

        search = EmbeddedSearch(hot)
        search.search("warm up")
        queries = make_queries(incidents, args.queries, args.seed)
        results: dict[str, list[tuple[float, int]]] = {}
        for kind, q in queries:
            dt, hits = timed(lambda q=q: search.search(q))
            results.setdefault(kind, []).append((dt, len(hits)))
        all_t = [dt for runs in results.values() for dt, _ in runs]
        for kind, runs in results.items():
            ts = [dt for dt, _ in runs]
            hits = [h for _, h in runs]
            example = next(q for k, q in queries if k == kind)
            line(
                f"  {kind} (e.g. {example!r})",
                f"p50 {percentile(ts, 50) * 1e3:.1f} ms, p95 {percentile(ts, 95) * 1e3:.1f} ms, "
                f"hits {min(hits)}-{max(hits)}",
            )
        p50 = percentile(all_t, 50)
        line(
            f"all {len(all_t)} queries",
            f"p50 {p50 * 1e3:.1f} ms, p95 {percentile(all_t, 95) * 1e3:.1f} ms",
        )
        line("  ratio floor/search (p50)", f"{f50 / p50:.3f}")

        # What the server does for one query (the phrase query).
        terms = query_terms("blocked attempts from 192.168")
        explain = pgsql.SQL("EXPLAIN (ANALYZE, FORMAT JSON) ") + sql.query("search_incidents")
        with psycopg.connect(dsn) as conn:
            doc = conn.execute(
                explain, {"terms": terms, "type": None, "client_ip": None, "limit": 20}
            ).fetchone()[0][0]
        scans = []

        def walk(node: dict) -> None:
            if "Scan" in node["Node Type"]:
                scans.append(
                    f"{node['Node Type']}"
                    + (f" {node['Index Name']}" if node.get("Index Name") else "")
                    + f" x{node.get('Actual Loops', 1)}"
                )
            for child in node.get("Plans", []):
                walk(child)

        walk(doc["Plan"])
        line(
            "  server execution of the phrase query",
            f"{doc['Execution Time']:.1f} ms; scans: {', '.join(scans)}",
        )


if __name__ == "__main__":
    main()
