"""The embedded search over a few thousand incidents (a real PostgreSQL, ANALYZEd): whichever
access path tables.search_plan picks from its estimate, the answer is the one the plain query
over the whole table gives; and the estimate sees a prefix of many rare words ("192.168")."""

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql as pgsql
from psycopg.rows import dict_row

from soc_platform import sql
from soc_platform.correlation.detection import default_detection
from soc_platform.correlation.incidents import build_incident, search_text
from soc_platform.factory import scratch_database
from soc_platform.hot.embedded import EmbeddedPostgres
from soc_platform.hot.store import HotPolicy, HotStore
from soc_platform.incidents import tables
from soc_platform.models import Incident
from soc_platform.search.backends import EmbeddedSearch
from soc_platform.search.query import parse_query

PACK = default_detection()
T_END = datetime(2026, 3, 31, tzinfo=UTC)
N = 3000


def make_incidents() -> list[Incident]:
    rng = random.Random(5)
    rules = [PACK.rules.rule("waf-sqli-burst"), PACK.rules.rule("waf-xss-burst")]
    out = []
    for k in range(N):
        if k % 100 == 0:  # 30 incidents from 45.23.0.0/16: a rare prefix
            ip = f"45.23.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        elif rng.random() < 0.4:  # ~1,200 distinct addresses under 192.168: a common prefix
            ip = f"192.168.{k // 250}.{k % 250 + 1}"
        else:
            ip = f"{rng.choice([23, 62, 89])}.{rng.randint(0, 255)}.{k // 250}.{k % 250 + 1}"
        rule = rules[0] if rng.random() < 0.8 else rules[1]
        window = T_END - timedelta(minutes=5 * rng.randint(1, 8000))
        count = rng.randint(int(rule.threshold), 60)
        match = {
            "group_key": ip,
            "sources": [ip],
            "source_count": 1,
            "window_start": window,
            "start_time": window + timedelta(seconds=rng.randint(0, 100)),
            "end_time": window + timedelta(seconds=rng.randint(150, 290)),
            "event_count": count,
            "blocked_count": count if rng.random() < 0.7 else 0,
            "rule_ids": ["942100"],
            "targets": [f"shop.example.com/p{k % 7}"],
        }
        out.append(
            build_incident(rule, match, window_end=window + rule.timespan, context=PACK.context)
        )
    return out


@pytest.fixture(scope="module")
def dsn(pg_cluster: EmbeddedPostgres) -> Iterator[str]:
    with scratch_database(pg_cluster.dsn("postgres"), "t") as dsn:
        yield dsn


@pytest.fixture(scope="module")
def hot(dsn: str) -> HotStore:
    store = HotStore(dsn, policy=HotPolicy(retention_days=0))
    store.setup()
    incidents = make_incidents()
    store.upsert_incidents(incidents, [search_text(i) for i in incidents])
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("ANALYZE incidents")
        conn.execute("ANALYZE incident_terms")
    return store


def whole_table(hot: HotStore, query: str, sort: str, limit: int) -> list[str]:
    """The plain query over the whole table (no window), as the oracle."""
    params = parse_query(query).sql_params(datetime.now(UTC))
    terms = params.pop("terms")
    with hot.connect() as conn, conn.cursor(row_factory=dict_row) as cur:
        found = tables._search_tsquery(cur, terms)
        assert found is not None
        cur.execute(
            tables._search_sql(sort),
            {**params, "type": None, "tsq": found.tsquery, "limit": limit},
        )
        return [str(r["id"]) for r in cur.fetchall()]


def estimate(hot: HotStore, query: str) -> tables.SearchTerms:
    with hot.connect() as conn, conn.cursor(row_factory=dict_row) as cur:
        found = tables._search_tsquery(
            cur, parse_query(query).sql_params(datetime.now(UTC))["terms"]
        )
        assert found is not None
        return found


def count(hot: HotStore, query: str) -> int:
    return len(whole_table(hot, query, "time", 10 * N))


QUERIES = [
    "192.168",  # a prefix of ~1,200 words: the window
    "45.23",  # a prefix of 30 words: the index
    "blocked",  # a common word: the window
    "sql injecton",  # a typo: the window, its share unknown
    "blocked 192.168",
    "cross site scripting 45.23",  # two rare parts: the index, few matches
    "status:open severity:>=medium 192.168",
    "rule:waf-xss-burst 192.168",  # filters that thin the window out: the whole table after it
]


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("sort", ["time", "score"])
@pytest.mark.parametrize("limit", [5, 20])
def test_every_access_path_gives_the_whole_table_answer(
    hot: HotStore, query: str, sort: str, limit: int
) -> None:
    expected = whole_table(hot, query, sort, limit)
    assert expected, query  # every query has matches
    got = [h.id for h in EmbeddedSearch(hot).search(query, limit=limit, sort=sort)]
    assert got == expected


def test_the_estimate_sees_a_prefix_of_many_rare_words(hot: HotStore) -> None:
    common, rare = estimate(hot, "192.168"), estimate(hot, "45.23")
    assert common.total == pytest.approx(N, rel=0.05)
    assert rare.total is not None and common.selectivity is not None
    truth = count(hot, "192.168")
    assert truth > 1000
    # the vocabulary holds a word per address: the estimate is the true count, give or take
    assert common.selectivity * common.total == pytest.approx(truth, rel=0.2)
    assert tables.search_plan(common, 20) is not None  # walk the newest incidents
    assert tables.search_plan(rare, 20) is None  # read the ~30 matches through the index
    # a common word: ANALYZE's most common lexemes
    blocked = estimate(hot, "blocked")
    assert blocked.selectivity is not None and blocked.selectivity > 0.5


def test_a_typo_is_looked_up_in_the_trigram_index(hot: HotStore) -> None:
    """With a few thousand words, the planner took a whole b-tree of the vocabulary read as a
    bitmap (the similarity of every word: 80 ms at 15,000 words) for the trigram index."""
    with hot.connect() as conn, conn.cursor() as cur:
        cur.execute(tables.TYPO_PLANNER)
        cur.execute(
            pgsql.SQL("EXPLAIN ") + sql.query("search_typo"),
            {"term": "travesal", "stem": "traves"},
        )
        plan = "\n".join(str(r[0]) for r in cur.fetchall())
        assert "incident_terms_trgm_idx" in plan, plan
        assert "incident_terms_prefix_idx" not in plan and "pkey" not in plan, plan
        # new words go into the index at once: no pending list for every lookup to read
        cur.execute("SELECT reloptions FROM pg_class WHERE relname = 'incident_terms_trgm_idx'")
        assert "fastupdate=off" in (cur.fetchone() or [[]])[0]
        # the incidents' index keeps fast update, with a small pending list
        cur.execute("SELECT reloptions FROM pg_class WHERE relname = 'incidents_search_tsv_idx'")
        assert "gin_pending_list_limit=256" in (cur.fetchone() or [[]])[0]


def test_a_window_never_stands_for_the_whole_table_on_stale_statistics(pg_dsn: str) -> None:
    """The statistics counted 60 incidents; 600 newer ones arrived since (no ANALYZE yet):
    a window the size of the old count holds none of the old matches, and the search must
    still find them in the whole table."""
    store = HotStore(pg_dsn, policy=HotPolicy(retention_days=0))
    store.setup()
    sqli, xss = PACK.rules.rule("waf-sqli-burst"), PACK.rules.rule("waf-xss-burst")

    def incident(rule: Any, k: int, minutes_ago: int) -> Incident:
        ip = f"10.{k // 250}.{k % 250}.1"
        window = T_END - timedelta(minutes=minutes_ago)
        match = {
            "group_key": ip,
            "sources": [ip],
            "source_count": 1,
            "window_start": window,
            "start_time": window,
            "end_time": window + timedelta(seconds=60),
            "event_count": 50,
            "blocked_count": 50,
            "rule_ids": ["942100"],
            "targets": ["shop.example.com/p"],
        }
        return build_incident(rule, match, window_end=window + rule.timespan, context=PACK.context)

    old = [incident(sqli, k, 20_000 + k) for k in range(60)]
    store.upsert_incidents(old, [search_text(i) for i in old])
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("ALTER TABLE incidents SET (autovacuum_enabled = false)")
        conn.execute("ANALYZE incidents")
    search = EmbeddedSearch(store)
    assert len(search.search("sql injection", limit=20)) == 20  # the statistics are read
    new = [incident(xss, 1000 + k, 1 + k) for k in range(600)]
    store.upsert_incidents(new, [search_text(i) for i in new])
    found = search.search("sql injection", limit=20)
    assert [h.id for h in found] == [i.id for i in old[:20]]


def test_the_typo_lookup_leaves_the_callers_settings_as_they_were(hot: HotStore) -> None:
    with psycopg.connect(hot.dsn, autocommit=True) as conn:
        conn.execute("SET enable_seqscan = off")  # the caller's own, for its session
        hits = EmbeddedSearch(hot, conn).search("injecton")
        assert hits
        assert conn.execute("SHOW enable_seqscan").fetchone() == ("off",)
        assert conn.execute("SHOW enable_indexonlyscan").fetchone() == ("on",)
    with hot.connect() as conn:  # in a transaction: the settings end with the lookup
        assert EmbeddedSearch(hot, conn).search("injecton")
        assert conn.execute("SHOW enable_seqscan").fetchone() == ("on",)
        assert conn.execute("SHOW enable_indexonlyscan").fetchone() == ("on",)
