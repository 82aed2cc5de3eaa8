"""Helpers of the Sigma integration tests: a database per test module, events through the
real parser and hot load, rule sets from inline YAML."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from soc_platform.correlation.ruleset import RuleSet, load_rule_set
from soc_platform.factory import scratch_database
from soc_platform.hot.embedded import EmbeddedPostgres
from soc_platform.hot.store import HotPolicy, HotStore
from soc_platform.parsing import get_parser, split_lines
from tests.helpers import to_jsonl


@contextmanager
def module_database(cluster: EmbeddedPostgres) -> Iterator[str]:
    """A fresh database for a whole test module (dropped afterwards): its DSN."""
    with scratch_database(cluster.dsn("postgres"), "t") as dsn:
        yield dsn


def load_events(dsn: str, events: list[dict[str, Any]], t0: datetime) -> HotStore:
    """Parse seed-format events (the i-th at ``t0`` + i seconds, which identifies it) and load
    them into ``waf_events`` through the hot store."""
    rows = []
    for i, event in enumerate(events):
        row = dict(event)
        row["timestamp"] = (t0 + timedelta(seconds=i)).isoformat().replace("+00:00", "Z")
        rows.append(row)
    block = split_lines(to_jsonl(rows).encode())
    result = get_parser("waf_json")(block, "sigma-test.jsonl", datetime.now(UTC))
    assert result.dead_letters.num_rows == 0, result.dead_letters.to_pylist()
    store = HotStore(dsn, policy=HotPolicy(retention_days=0))
    store.setup()
    store.load_events(result.events)
    return store


def rule_text(detection: str, name: str = "t") -> str:
    return (
        f"title: {name}\nname: {name}\nlogsource:\n    category: webserver\n"
        f"detection:\n{detection}\n"
    )


def compile_rules(text: str) -> RuleSet:
    return load_rule_set(Path("inline"), texts=[("inline.yml", text)])


def matching_offsets(dsn: str, predicate: str, t0: datetime) -> set[int]:
    """The offsets (seconds after ``t0``) of the events a compiled predicate matches."""
    query = (
        "SELECT extract(epoch FROM e.event_time - %(t0)s::timestamptz)::int "
        f"FROM waf_events AS e WHERE ({predicate.replace('%', '%%')})"
    )
    with psycopg.connect(dsn) as conn:
        return {r[0] for r in conn.execute(query, {"t0": t0}).fetchall()}
