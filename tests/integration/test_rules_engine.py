"""The Sigma rules engine over a real PostgreSQL hot store: the seed's rule gives the seed's
incidents, late data, idempotency, every built-in rule's fixtures, suppression, allow-lists,
retro-hunts."""

import json
import random
import shutil
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pytest
from psycopg.rows import dict_row

from soc_platform.correlation.config import parse_detection_config
from soc_platform.correlation.detection import (
    Detection,
    builtin_rules_dir,
    default_detection,
    load_detection,
)
from soc_platform.correlation.evaluate import evaluate, plan_days, plan_touched
from soc_platform.correlation.incidents import Context, incident_id
from soc_platform.correlation.runs import find_runs
from soc_platform.correlation.windows import day_windows
from soc_platform.flow import rules as rulework
from soc_platform.hot.embedded import EmbeddedPostgres
from soc_platform.hot.store import HotPolicy, HotStore
from soc_platform.incidents import engine
from soc_platform.parsing import get_parser, split_lines
from soc_platform.sources.synth import generate
from tests.helpers import sqli_burst, to_jsonl, waf_event

DAY = date(2026, 3, 10)
NOON = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
SQLI = default_detection().only("waf-sqli-burst")
SEED_SQL = (Path(__file__).parent / "seed_rule_sqli_burst.sql").read_text()


def parse(events: list[dict[str, Any]]) -> pa.Table:
    block = split_lines(to_jsonl(events).encode())
    result = get_parser("waf_json")(block, "test.jsonl", datetime.now(UTC))
    assert result.dead_letters.num_rows == 0
    return result.events


@pytest.fixture
def hot(pg_dsn: str) -> HotStore:
    store = HotStore(pg_dsn, policy=HotPolicy(retention_days=0))  # fixed past dates
    store.setup()
    return store


def with_config(detection: Detection, text: str) -> Detection:
    config = parse_detection_config(text)
    return load_detection_with(config, detection)


def load_detection_with(config: Any, detection: Detection) -> Detection:
    from soc_platform.correlation.ruleset import load_rule_set

    names = [r.name for r in detection.rules.rules]
    rules = load_rule_set(builtin_rules_dir(), config).only(names)
    return Detection(rules, Context(config, detection.context.assets))


# -- the seed's rule, now a Sigma correlation rule --------------------------------------


def seed_incidents(dsn: str, day: date) -> list[dict[str, Any]]:
    """The seed's algorithm with the seed's SQL: fire windows (>= 10 SQLi per IP in 5 min,
    a window every minute), runs of consecutive firing windows, totals per run."""
    width, hop = timedelta(minutes=5), timedelta(minutes=1)
    windows = day_windows([day], width, hop)
    lo, hi = windows[0], windows[-1] + width

    def run(starts: list[datetime], ends: list[datetime], groups: list[Any], n: int) -> Any:
        with psycopg.connect(dsn) as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                SEED_SQL,  # type: ignore[arg-type]
                {
                    "span_starts": starts,
                    "span_ends": ends,
                    "span_groups": groups,
                    "threshold": n,
                    "lo": lo,
                    "hi": hi,
                },
            )
            return cur.fetchall()

    fired = run(windows, [w + width for w in windows], [None] * len(windows), 10)
    runs = find_runs({(r["client_ip"], r["window_start"]) for r in fired}, hop, width)
    totals = run([r.start for r in runs], [r.end for r in runs], [r.group for r in runs], 1)
    ends = {(r.group, r.start): r.end for r in runs}
    return [{**t, "window_end": ends[(t["client_ip"], t["window_start"])]} for t in totals]


def test_seed_rule_as_sigma_correlation_gives_the_seed_incidents(hot: HotStore) -> None:
    """Synthetic traffic with SQLi bursts, slow probes, long campaigns and near-misses:
    the Sigma rule waf-sqli-burst finds exactly the seed's incidents (same ids, windows,
    counts, rule ids and targets)."""
    events, _ = generate(events=6000, minutes=180, seed=11, end=NOON + timedelta(hours=2))
    rng = random.Random(5)
    for i in range(12):  # bursts of varied size and pace, some below the threshold
        start = NOON - timedelta(minutes=rng.randint(0, 170))
        n = rng.choice([8, 9, 10, 11, 15, 30])
        events += sqli_burst(start, f"192.168.90.{i}", n=n, spacing_s=rng.choice([3, 20, 40]))
    hot.load_events(parse(events))

    expected = seed_incidents(hot.dsn, DAY)
    report = engine.correlate_days(hot, [DAY], SQLI)
    got = {(i.client_ip, i.window_start): i for i in report.incidents}
    assert len(expected) >= 6  # the comparison covers many incidents
    assert set(got) == {(e["client_ip"], e["window_start"]) for e in expected}
    for e in expected:
        inc = got[(e["client_ip"], e["window_start"])]
        assert inc.id == incident_id("waf-sqli-burst", e["client_ip"], e["window_start"])
        assert (inc.start_time, inc.end_time, inc.window_end) == (
            e["start_time"],
            e["end_time"],
            e["window_end"],
        )
        assert (inc.event_count, inc.blocked_count) == (e["event_count"], e["blocked_count"])
        assert inc.rule_ids == list(e["rule_ids"])
        assert sorted(inc.targets) == sorted(e["targets"])
        assert inc.type == "sql_injection" and inc.attack_techniques == ["T1190"]


# -- late data and idempotency -----------------------------------------------------------


def test_late_slice_of_a_campaign_is_detected_once(hot: HotStore) -> None:
    """A campaign of 8 SQLi/min for 6 minutes: the batch with its last minutes arrives
    first, the first minutes arrive an hour late. The late slice joins the incident (now
    starting earlier: the old id is superseded), and re-running any window changes
    nothing."""
    start = NOON.replace(minute=20)
    campaign = sqli_burst(start, "198.51.100.200", n=48, spacing_s=7.5)
    early, late = campaign[:30], campaign[30:]
    now = start + timedelta(minutes=8)
    first = engine.correlate(hot, _load(hot, late)["event_time"], SQLI, now=now)
    assert [i.event_count for i in first.incidents] == [18]
    old_id = first.incidents[0].id

    later = now + timedelta(hours=1)  # far past the lookback: only the touched windows
    second = engine.correlate(hot, _load(hot, early)["event_time"], SQLI, now=later)
    assert [i.event_count for i in second.incidents] == [48]
    assert second.superseded == [old_id]
    stored = hot.list_incidents()
    assert [(i.id, i.event_count) for i in stored] == [(second.incidents[0].id, 48)]
    assert stored[0].start_time == start

    # re-evaluating: the same windows, the whole day, again: never a second incident
    again = engine.correlate(hot, _times(early + late), SQLI, now=later)
    assert again.changed == 0 and again.superseded == []
    day = engine.correlate_days(hot, [DAY], SQLI)
    assert day.changed == 0 and day.superseded == []
    assert [i.id for i in hot.list_incidents()] == [second.incidents[0].id]


def _load(hot: HotStore, events: list[dict[str, Any]]) -> pa.Table:
    table = parse(events)
    hot.load_events(table)
    return table


def _times(events: list[dict[str, Any]]) -> pa.Array:
    return parse(events)["event_time"]


# -- the rule pack's fixtures --------------------------------------------------------------
# Each fixture is replayed once in the suite: the positive one in shuffled micro-batches
# (checked against expected.yml and against one evaluation of the whole day), the negative
# one whole. Two rules whose fixtures hold thousands of lines go through `rules test`
# (rulework.test_rules, the command's own code) instead.

RULE_DIRS = sorted(p.name for p in (builtin_rules_dir() / "tests").iterdir() if p.is_dir())
THROUGH_RULES_TEST = ("waf-request-flood", "waf-scanner-fuzzing")


def _fixture_events(rule: str, case: str) -> list[dict[str, Any]]:
    path = builtin_rules_dir() / "tests" / rule / f"{case}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("rule", [r for r in RULE_DIRS if r not in THROUGH_RULES_TEST])
def test_rule_fixtures_in_micro_batches_agree_with_a_backfill(rule: str, hot: HotStore) -> None:
    """A rule's positive fixture, fed in 7 shuffled micro-batches, raises the incidents its
    expected.yml names, the same (ids, counts, ends) as one evaluation of the whole day,
    which rewrites nothing; its negative fixture (near-misses) raises none."""
    spec = rulework.expected_spec(builtin_rules_dir() / "tests" / rule)
    detection = default_detection().only(str(spec.get("rule") or rule))
    events = _fixture_events(rule, "positive")
    random.Random(3).shuffle(events)
    for batch in (events[i::7] for i in range(7)):
        part = _load(hot, batch)
        engine.correlate(hot, part["event_time"], detection, now=NOON)
    live = hot.list_incidents(limit=1000)
    found = rulework.compare_case(rule, "positive", list(spec.get("positive") or []), live)
    assert found.ok, found.problems
    assert found.found, "a positive fixture must raise an incident"
    days = sorted({t.date() for t in parse(events)["event_time"].to_pylist()})
    backfill = engine.correlate_days(hot, days, detection)
    assert {(i.id, i.event_count, i.end_time) for i in backfill.incidents} == {
        (i.id, i.event_count, i.end_time) for i in live
    }
    assert backfill.changed == 0 and backfill.superseded == []

    with hot.connect(autocommit=True) as conn:  # the negative case on an empty table
        conn.execute("TRUNCATE waf_events")
        conn.execute("DELETE FROM incidents")
    negative = _load(hot, _fixture_events(rule, "negative"))
    days = sorted({t.date() for t in negative["event_time"].to_pylist()})
    quiet = engine.correlate_days(hot, days, detection).incidents
    result = rulework.compare_case(rule, "negative", list(spec.get("negative") or []), quiet)
    assert result.ok, result.problems


@pytest.mark.parametrize("rule", THROUGH_RULES_TEST)
def test_builtin_rule_fixtures(rule: str, pg_cluster: EmbeddedPostgres) -> None:
    """`soc-platform rules test` for one rule: positive fixture fires as expected, the
    negative one (near-misses) does not."""
    results = rulework.test_rules(
        default_detection(), builtin_rules_dir(), pg_cluster.dsn("postgres"), only=[rule]
    )
    assert [r.case for r in results] == ["positive", "negative"]
    for r in results:
        assert r.ok, (r.case, r.problems)
    assert results[0].found, "a positive fixture must raise an incident"


def test_every_builtin_rule_has_fixtures_and_attack_tags() -> None:
    rules = default_detection().rules
    assert not rules.problems
    assert sorted(r.name for r in rules.rules) == RULE_DIRS
    for r in rules.rules:
        assert r.techniques, r.name
    kinds = {r.name: r.kind for r in rules.rules}
    assert kinds["waf-distributed-brute-force"] == "value_count"
    assert kinds["waf-attack-then-success"] == "temporal_ordered"


def test_distributed_brute_force_groups_by_host_and_path(hot: HotStore) -> None:
    folder = builtin_rules_dir() / "tests" / "waf-distributed-brute-force"
    events = [json.loads(line) for line in (folder / "positive.jsonl").read_text().splitlines()]
    table = _load(hot, events)
    days = sorted({t.date() for t in table["event_time"].to_pylist()})
    report = engine.correlate_days(
        hot, days, default_detection().only("waf-distributed-brute-force")
    )
    [inc] = report.incidents
    assert set(inc.group) == {"cs-host", "cs-uri-stem"}
    assert inc.client_ip == ""  # many sources: no single client IP
    assert inc.source_count >= 20 and len(inc.sources) == 20
    assert "sources" in inc.description and inc.severity in ("high", "critical")
    assert any("distinct target" in r for r in inc.score_reasons)


# -- suppression and allow-lists --------------------------------------------------------


def test_suppression_period_folds_repeated_bursts_into_one_incident(hot: HotStore) -> None:
    """Three bursts of one source 12 and 20 minutes apart: without suppression three
    incidents; with 30 minutes of suppression one, counting the two it folded in, whether
    the bursts arrive together or one batch at a time."""
    ip = "203.0.113.77"
    bursts = [sqli_burst(NOON + timedelta(minutes=m), ip, n=12, spacing_s=5) for m in (0, 12, 32)]
    plain = SQLI
    quiet = with_config(SQLI, "defaults: {suppress_for: 30m}\n")
    for burst in bursts:
        _load(hot, burst)
    assert len(engine.evaluate_days(hot, [DAY], plain).incidents) == 3

    # one batch at a time
    for burst in bursts:
        engine.correlate(hot, _times(burst), quiet, now=NOON + timedelta(hours=1))
    stored = hot.list_incidents()
    assert [(i.event_count, i.suppressed_count) for i in stored] == [(36, 2)]
    # the backfill agrees and rewrites nothing
    again = engine.correlate_days(hot, [DAY], quiet)
    assert [(i.id, i.suppressed_count) for i in again.incidents] == [(stored[0].id, 2)]
    assert again.changed == 0


def test_allow_listed_sources_are_kept_as_suppressed_not_lost(hot: HotStore) -> None:
    config = (
        "allowlist:\n  - name: internal scanner\n    networks: [10.20.0.0/16]\n"
        "    rules: [waf-sqli-burst]\n"
    )
    detection = with_config(SQLI, config)
    events = sqli_burst(NOON, "10.20.3.4", n=12) + sqli_burst(NOON, "198.51.100.9", n=12)
    report = engine.correlate(hot, _load(hot, events)["event_time"], detection, now=NOON)
    status = {i.client_ip: (i.status, i.suppression) for i in report.incidents}
    assert status == {
        "10.20.3.4": ("suppressed", "allow-list: internal scanner"),
        "198.51.100.9": ("open", ""),
    }
    assert report.suppressed == 1


def test_thresholds_are_configurable_without_editing_rule_files(hot: HotStore) -> None:
    events = sqli_burst(NOON, "198.51.100.10", n=8, spacing_s=10)  # Wazuh: 8 in 120 s
    _load(hot, events)
    assert engine.evaluate_days(hot, [DAY], SQLI).incidents == []
    wazuh = with_config(SQLI, "rules:\n  waf-sqli-burst: {count: 8, timespan: 2m}\n")
    [inc] = engine.evaluate_days(hot, [DAY], wazuh).incidents
    assert inc.event_count == 8
    assert wazuh.rules.rule("waf-sqli-burst").timespan == timedelta(minutes=2)


# -- retro-hunt --------------------------------------------------------------------------


def test_retro_hunt_shows_a_shadow_diff_before_going_live(hot: HotStore, tmp_path: Path) -> None:
    """Live: the built-in SQLi rule. Candidate: the same rule at 5 events. The hunt adds the
    slower bursts, removes nothing, leaves the live incidents untouched."""
    _load(hot, sqli_burst(NOON, "198.51.100.1", n=12, spacing_s=5))
    _load(hot, sqli_burst(NOON + timedelta(hours=1), "198.51.100.2", n=6, spacing_s=5))
    engine.correlate_days(hot, [DAY], SQLI)
    live = hot.list_incidents()
    assert [i.client_ip for i in live] == ["198.51.100.1"]

    candidate_dir = tmp_path / "rules"
    shutil.copytree(builtin_rules_dir() / "waf", candidate_dir)
    path = candidate_dir / "waf-sqli-burst.yml"
    path.write_text(path.read_text().replace("gte: 10", "gte: 5"))
    candidate = load_detection(candidate_dir).only("waf-sqli-burst")
    report = rulework.retro_hunt(hot, [DAY], candidate)
    assert report.counts() == {"added": 1, "removed": 0, "changed": 0}
    [added] = report.diff
    assert added["group_key"] == "198.51.100.2" and added["shadow_events"] == 6
    assert hot.list_incidents() == live  # the live incidents are untouched
    # the same hunt again replaces its own shadow rows
    assert rulework.retro_hunt(hot, [DAY], candidate).counts() == report.counts()

    stricter = tmp_path / "strict"
    shutil.copytree(builtin_rules_dir() / "waf", stricter)
    path = stricter / "waf-sqli-burst.yml"
    path.write_text(path.read_text().replace("gte: 10", "gte: 20"))
    removed = rulework.retro_hunt(hot, [DAY], load_detection(stricter).only("waf-sqli-burst"))
    assert removed.counts() == {"added": 0, "removed": 1, "changed": 0}


# -- review findings -------------------------------------------------------------------------


def test_a_late_burst_does_not_delete_the_next_separate_run(hot: HotStore) -> None:
    """Burst B is stored first; burst A of the same source arrives long after, its run ending
    (last window + 5 min) after B's first window. Both incidents stay, in either order."""
    ip = "198.51.100.33"
    a = sqli_burst(NOON.replace(minute=4, second=30), ip, n=10, spacing_s=2)
    b = sqli_burst(NOON.replace(minute=10, second=30), ip, n=10, spacing_s=2)
    later = NOON + timedelta(hours=2)
    engine.correlate(hot, _load(hot, b)["event_time"], SQLI, now=later)
    engine.correlate(hot, _load(hot, a)["event_time"], SQLI, now=later)
    first = sorted((i.window_start, i.event_count) for i in hot.list_incidents())
    assert len(first) == 2
    assert (
        sorted(
            (i.window_start, i.event_count)
            for i in engine.correlate_days(hot, [DAY], SQLI).incidents
        )
        == first
    )


def test_blocked_events_outnumbering_distinct_sources_score_fine(hot: HotStore) -> None:
    """value_count: 25 sources, 2 failed logins each, 49 of 50 blocked by a rate limit."""
    events = []
    for i in range(25):
        for k in range(2):
            ev = waf_event(
                NOON + timedelta(seconds=10 * i + k),
                f"192.0.2.{i + 1}",
                status=401,
                uri="/wp-login.php",
            )
            ev["request_method"] = "POST"
            ev["action"] = "blocked" if (i, k) != (0, 0) else "allowed"
            events.append(ev)
    _load(hot, events)
    [inc] = engine.evaluate_days(
        hot, [DAY], default_detection().only("waf-distributed-brute-force")
    ).incidents
    assert (inc.event_count, inc.blocked_count) == (50, 49)
    assert any("1 of 50 requests not blocked" in r for r in inc.score_reasons)


def test_a_rule_postgresql_refuses_is_skipped_and_reported(hot: HotStore, tmp_path: Path) -> None:
    # valid PCRE (and RE2, which pySigma checks it with), translated, but beyond the size
    # of automaton PostgreSQL builds: "regular expression is too complex"
    too_complex = "x{1,255}" * 200
    (tmp_path / "bad.yml").write_text(
        "title: Too complex\nname: bad-regex\nlogsource: {category: webserver}\n"
        f"detection:\n  sel:\n    c-useragent|re: '{too_complex}'\n  condition: sel\n"
    )
    shutil.copy(builtin_rules_dir() / "waf" / "waf-sqli-burst.yml", tmp_path / "sqli.yml")
    detection = load_detection(tmp_path)
    assert {r.name for r in detection.rules.rules} == {"bad-regex", "waf-sqli-burst"}
    _load(hot, sqli_burst(NOON, "198.51.100.44", n=12))
    report = engine.correlate_days(hot, [DAY], detection)
    assert set(report.rule_errors) == {"bad-regex"}
    assert "regular expression" in report.rule_errors["bad-regex"]
    assert report.per_rule == {"waf-sqli-burst": 1}


def test_allow_list_needs_every_targeted_host(hot: HotStore) -> None:
    config = "allowlist:\n  - name: status page\n    hosts: [status.example.com]\n"
    detection = with_config(SQLI, config)
    events = sqli_burst(NOON, "198.51.100.55", n=12)
    events[0]["host"] = "status.example.com"  # one request to the allowed host
    only_status = [dict(e, host="status.example.com", client_ip="198.51.100.56") for e in events]
    _load(hot, events + only_status)
    found = engine.evaluate_days(hot, [DAY], detection).incidents
    assert {i.client_ip: i.status for i in found} == {
        "198.51.100.55": "open",
        "198.51.100.56": "suppressed",
    }


def test_an_incident_whose_condition_stops_holding_is_retired(
    hot: HotStore, tmp_path: Path
) -> None:
    """A non-monotone rule (fewer than 3 login requests from a source in 5 minutes: a
    "quiet" source): late events make its window stop firing and the incident goes."""
    (tmp_path / "quiet.yml").write_text(
        "title: Quiet login\nname: quiet-login\ncorrelation:\n  type: event_count\n"
        "  rules: [login-hit]\n  group-by: [c-ip]\n  timespan: 5m\n  condition: {lt: 3}\n"
        "---\ntitle: Login hit\nname: login-hit\nlogsource: {category: webserver}\n"
        "detection:\n  sel:\n    cs-uri-stem: /login\n  condition: sel\n"
    )
    detection = load_detection(tmp_path)
    ip = "198.51.100.66"
    first = [waf_event(NOON + timedelta(minutes=30), ip, uri="/login")]
    engine.correlate(hot, _load(hot, first)["event_time"], detection, now=NOON + timedelta(hours=1))
    assert [i.client_ip for i in hot.list_incidents()] == [ip]
    late = [waf_event(NOON + timedelta(minutes=30, seconds=s), ip, uri="/login") for s in (5, 9)]
    report = engine.correlate(
        hot, _load(hot, late)["event_time"], detection, now=NOON + timedelta(hours=1)
    )
    assert report.incidents == [] and hot.list_incidents() == []
    assert report.superseded


def test_the_shared_scan_finds_what_each_rule_reading_the_events_finds(hot: HotStore) -> None:
    """The pack's events read once (a flag per rule per event) and the window queries over
    the matches give exactly the incidents of every rule reading waf_events itself: every
    built-in rule's positive and negative fixtures plus generated traffic, as a micro-batch
    (touched windows and lookback) and as a backfill of the day."""
    root = builtin_rules_dir() / "tests"
    events: list[dict[str, Any]] = []
    for folder in sorted(root.iterdir()):
        for name in ("positive.jsonl", "negative.jsonl"):
            if (folder / name).exists():
                events += [json.loads(x) for x in (folder / name).read_text().splitlines()]
    traffic, _ = generate(events=3000, minutes=120, end=NOON + timedelta(hours=1))
    events += traffic
    detection = default_detection()
    rules = detection.rules.rules
    part = _load(hot, events)
    days = sorted({t.date() for t in part["event_time"].to_pylist()})
    plans = {
        "batch": plan_touched(rules, part["event_time"], NOON),
        "days": plan_days(rules, days),
    }
    for plan in plans.values():
        shared = evaluate(hot, plan, detection.context, shared=True)
        alone = evaluate(hot, plan, detection.context)
        assert shared.scanned >= 1 and alone.scanned == 0
        assert shared.errors == alone.errors == {}
        assert replace(shared, scanned=0) == alone
        assert len({i.rule for i in shared.incidents}) >= 8
