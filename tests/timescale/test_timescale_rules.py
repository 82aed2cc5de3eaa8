"""TimescaleDB dialect: the built-in rule pack and the query surface on the hypertable,
compared with the same run on plain PostgreSQL.

Every rule fixture (``rules/tests/*/{positive,negative}.jsonl``) is parsed by the product's
parser and loaded into both stores once for the module: plain PostgreSQL through the
product's loader (COPY), TimescaleDB by INSERT plus the loader's aggregate refresh (this
server cannot take COPY). The tests read that state; the last one compresses the chunks
and evaluates again.
"""

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest
import yaml

from soc_platform.correlation.detection import Detection, builtin_rules_dir, default_detection
from soc_platform.days import event_days
from soc_platform.factory import scratch_database
from soc_platform.flow import checks
from soc_platform.hot.embedded import EmbeddedPostgres
from soc_platform.hot.store import HotPolicy, HotStore
from soc_platform.incidents import engine
from soc_platform.incidents.engine import CorrelationReport
from soc_platform.lake.iceberg import Lake
from soc_platform.models import Incident
from soc_platform.parsing import get_parser, split_lines
from soc_platform.search.backends import EmbeddedSearch
from tests.timescale.pglite import PGliteServer, connect, hot_store, insert_and_refresh, reset

pytestmark = pytest.mark.timescale

FIXTURES = sorted((builtin_rules_dir() / "tests").glob("*/*.jsonl"))
INGESTED = datetime(2026, 3, 2, tzinfo=UTC)


@dataclass
class Loaded:
    events: pa.Table
    days: list[date]
    detection: Detection
    timescale: HotStore
    plain: HotStore
    batch: dict[str, CorrelationReport]  # the micro-batch evaluation, per dialect
    rebuild: dict[str, CorrelationReport]  # the whole-day evaluation, per dialect


def parse_fixtures() -> pa.Table:
    tables = []
    for path in FIXTURES:
        result = get_parser("waf_json")(split_lines(path.read_bytes()), str(path), INGESTED)
        assert result.dead_letters.num_rows == 0, path
        tables.append(result.events)
    return pa.concat_tables(tables)


def comparable(incidents: list[Incident]) -> list[dict[str, Any]]:
    """Incidents as plain values, by id, without the store's write time; times in UTC
    (psycopg returns them in the session's time zone)."""
    out = []
    for inc in sorted(incidents, key=lambda i: i.id):
        values = asdict(inc)
        values.pop("updated_at")
        out.append(
            {k: v.astimezone(UTC) if isinstance(v, datetime) else v for k, v in values.items()}
        )
    return out


@pytest.fixture(scope="module")
def loaded(pglite_server: PGliteServer, pg_cluster: EmbeddedPostgres) -> Iterator[Loaded]:
    pglite_server.ensure_running()
    with connect(pglite_server.dsn) as conn:
        reset(conn)
    with scratch_database(pg_cluster.dsn("postgres"), "t") as plain_dsn:
        keep_all = HotPolicy(retention_days=0)
        timescale = hot_store(pglite_server.dsn, keep_all)
        plain = HotStore(plain_dsn, policy=keep_all)
        assert timescale.setup().value == "timescale" and plain.setup().value == "plain"
        events = parse_fixtures()
        assert plain.load_events(events).inserted == insert_and_refresh(timescale, events)
        detection = default_detection()
        days = event_days(events["event_time"])
        now = max(events["event_time"].to_pylist()) + timedelta(minutes=2)
        stores = {"timescale": timescale, "plain": plain}
        batch = {
            k: engine.correlate(h, events["event_time"], detection, now=now)
            for k, h in stores.items()
        }
        rebuild = {k: engine.correlate_days(h, days, detection) for k, h in stores.items()}
        yield Loaded(events, days, detection, timescale, plain, batch, rebuild)


def test_the_rule_pack_finds_the_same_incidents_as_on_plain_postgres(loaded: Loaded) -> None:
    for reports in (loaded.batch, loaded.rebuild):
        ts, pg = reports["timescale"], reports["plain"]
        assert ts.rule_errors == pg.rule_errors == {}
        assert ts.windows_evaluated == pg.windows_evaluated > 0
        assert ts.per_rule == pg.per_rule
        assert comparable(ts.incidents) == comparable(pg.incidents)
        assert ts.superseded == pg.superseded and ts.changed == pg.changed
    # every built-in rule fired on its positive fixture
    rules = {r.name for r in loaded.detection.rules.rules}
    fired = set(loaded.rebuild["timescale"].per_rule)
    assert {p.parent.name for p in FIXTURES} <= rules
    assert {p.parent.name for p in FIXTURES} <= fired
    # ... with the incidents its expected.yml names
    found = {
        (i.rule, tuple(sorted(i.group.items()))) for i in loaded.rebuild["timescale"].incidents
    }
    for spec_path in sorted((builtin_rules_dir() / "tests").glob("*/expected.yml")):
        spec = yaml.safe_load(spec_path.read_text())
        for expected in spec.get("positive") or []:
            group = tuple(sorted((str(k), str(v)) for k, v in expected["group"].items()))
            assert (spec["rule"], group) in found, (spec_path, expected)
    # what the stores hold afterwards is the same too
    window = (min(loaded.days), max(loaded.days) + timedelta(days=1))
    stored = {
        k: h.list_incidents(start=day_start(window[0]), end=day_start(window[1]), limit=10_000)
        for k, h in (("timescale", loaded.timescale), ("plain", loaded.plain))
    }
    assert len(stored["timescale"]) == len(loaded.rebuild["plain"].incidents)
    assert comparable(stored["timescale"]) == comparable(stored["plain"])


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@pytest.mark.parametrize(
    ("query", "kwargs"),
    [
        ("blocked attacks from 203.0.113", {}),
        ("login attempts from 198.51.100", {}),
        ("sql injecton", {}),  # a typo: the trigram vocabulary (pg_trgm) finds "injection"
        ("bruteforce", {}),  # one word for two: found by similarity too
        ("198.51.100", {"limit": 5}),
        ("attempts", {"type_": "sql_injection"}),
    ],
)
def test_incident_search_answers_as_on_plain_postgres(
    loaded: Loaded, query: str, kwargs: dict[str, Any]
) -> None:
    ts = EmbeddedSearch(loaded.timescale).search(query, **kwargs)
    pg = EmbeddedSearch(loaded.plain).search(query, **kwargs)
    assert ts, f"{query!r} found nothing"
    assert [h.to_dict() for h in ts] == [h.to_dict() for h in pg]


def test_incident_search_by_client_ip(loaded: Loaded) -> None:
    some = loaded.rebuild["timescale"].incidents[0]
    assert some.client_ip
    hits = EmbeddedSearch(loaded.timescale).search("", client_ip=some.client_ip, limit=100)
    assert some.id in {h.id for h in hits}
    assert {h.client_ip for h in hits} == {some.client_ip}
    pg = EmbeddedSearch(loaded.plain).search("", client_ip=some.client_ip, limit=100)
    assert [h.id for h in hits] == [h.id for h in pg]


def test_summaries_counts_and_checks_agree(loaded: Loaded, lake: Lake) -> None:
    ts, pg = loaded.timescale, loaded.plain
    first, last = min(loaded.days), max(loaded.days)
    summary = ts.daily_summary(first, last)
    assert summary and summary == pg.daily_summary(first, last)
    assert all(r["day"].astimezone(UTC).time() == datetime.min.time() for r in summary)
    for day in loaded.days:
        totals = ts.aggregate_totals(day)
        assert totals == pg.aggregate_totals(day)
        assert len(set(totals.values())) == 1
    assert checks.check_aggregate_totals(ts, loaded.days).passed
    n = ts.count_events(first, last)
    assert n == pg.count_events(first, last) == len(set(loaded.events["event_id"].to_pylist()))
    assert ts.count_events_by_day(loaded.days) == pg.count_events_by_day(loaded.days)
    # the lake/hot count check against a real Iceberg lake holding the same events
    lake.append_events(loaded.events)
    check = checks.check_lake_hot_counts(ts, lake, loaded.days, retries=0)
    assert check.passed, check.description
    newest = ts.newest_event_time()
    assert newest is not None and newest == pg.newest_event_time()
    assert newest == max(loaded.events["event_time"].to_pylist())
    assert checks.check_freshness(
        ts, timedelta(minutes=60), now=newest + timedelta(minutes=5)
    ).passed
    late = checks.check_freshness(ts, timedelta(minutes=60), now=newest + timedelta(hours=2))
    assert not late.passed and "120.0 min old" in late.description
    # a rule predicate runs as such against the hypertable (rules convert --report)
    lo, hi = day_start(first), day_start(last + timedelta(days=1))
    for rule in loaded.detection.rules.rules:
        assert ts.count_matches(rule.predicate, lo, hi) == pg.count_matches(rule.predicate, lo, hi)


def test_rules_over_compressed_chunks_find_the_same_incidents(loaded: Loaded) -> None:
    """Compressed chunks (segment by rule_id, order by client_ip, event_time DESC) answer
    every rule query as the uncompressed table did."""
    with connect(loaded.timescale.dsn) as conn:
        compressed = conn.execute(
            "SELECT count(compress_chunk(c, if_not_compressed => true)) "
            "FROM show_chunks('waf_events') AS c"
        ).fetchone()
        assert compressed and compressed[0] >= 1
        assert conn.execute(
            "SELECT bool_and(is_compressed) FROM timescaledb_information.chunks "
            "WHERE hypertable_name = 'waf_events'"
        ).fetchone() == (True,)
    again = engine.correlate_days(loaded.timescale, loaded.days, loaded.detection)
    assert again.rule_errors == {}
    assert comparable(again.incidents) == comparable(loaded.rebuild["plain"].incidents)
    assert again.superseded == []
    lo, hi = day_start(min(loaded.days)), day_start(max(loaded.days) + timedelta(days=1))
    for rule in loaded.detection.rules.rules:
        assert loaded.timescale.count_matches(rule.predicate, lo, hi) == loaded.plain.count_matches(
            rule.predicate, lo, hi
        )
