"""The detection engineer's workflow: rule tests, the conversion report, retro-hunts.

* ``test_rules``: every rule with fixtures (``<rules>/tests/<rule>/positive.jsonl``,
  ``negative.jsonl``, ``expected.yml``) replays them on a throwaway database through the
  real parser, hot load and engine, and compares the incidents with the expected ones.
* ``convert_report``: how many rules of a directory load, convert to SQL and run against
  the hot table, and why each one that does not failed.
* ``retro_hunt``: a candidate rule set over past days of the hot store, stored apart
  (``shadow_incidents``) and compared with the live incidents of the same rules.
"""

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import yaml

from soc_platform.correlation.detection import Detection
from soc_platform.correlation.ruleset import RuleProblem, RuleSet, load_rule_set
from soc_platform.days import event_days
from soc_platform.errors import RuleError
from soc_platform.factory import scratch_database
from soc_platform.hot.store import HotPolicy, HotStore
from soc_platform.incidents import engine
from soc_platform.models import Incident
from soc_platform.parsing import get_parser, split_lines

#: Fixtures carry fixed dates: the throwaway store keeps every day.
KEEP_ALL = HotPolicy(retention_days=0)


def parse_jsonl(data: bytes, source: str) -> Any:
    """WAF JSON lines -> canonical events; a line the parser rejects is a fixture error."""
    result = get_parser("waf_json")(split_lines(data), source, datetime.now(UTC))
    if result.dead_letters.num_rows:
        reasons = result.dead_letter_counts()
        raise RuleError(f"{source}: {result.dead_letters.num_rows} line(s) rejected: {reasons}")
    return result.events


# -- rule tests ---------------------------------------------------------------------------


@dataclass
class CaseResult:
    rule: str
    case: str  # positive / negative
    expected: list[dict[str, Any]]
    found: list[dict[str, Any]]
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def fixture_dirs(rules_root: Path) -> list[Path]:
    base = rules_root / "tests" if rules_root.is_dir() else rules_root.parent / "tests"
    return sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []


def test_rules(
    detection: Detection,
    rules_root: Path,
    admin_dsn: str,
    only: Sequence[str] = (),
) -> list[CaseResult]:
    """Replay every fixture (or those of ``only``) and compare with its expectations."""
    results: list[CaseResult] = []
    for folder in fixture_dirs(rules_root):
        if only and folder.name not in only:
            continue
        spec = expected_spec(folder)
        name = str(spec.get("rule") or folder.name)
        try:
            rule_only = detection.only(name)
            rule_only.rules.rule(name)
        except KeyError:
            results.append(
                CaseResult(name, "-", [], [], [f"no rule named {name!r} loaded from the set"])
            )
            continue
        for case in ("positive", "negative"):
            path = folder / f"{case}.jsonl"
            expected = list(spec.get(case) or [])
            if not path.exists():
                results.append(CaseResult(name, case, expected, [], [f"{path} is missing"]))
                continue
            with scratch_database(admin_dsn) as dsn:
                hot = HotStore(dsn, policy=KEEP_ALL)
                hot.setup()
                events = parse_jsonl(path.read_bytes(), str(path))
                hot.load_events(events)
                found = engine.correlate_days(
                    hot, event_days(events["event_time"]), rule_only
                ).incidents
            results.append(compare_case(name, case, expected, found))
    return results


def expected_spec(folder: Path) -> dict[str, Any]:
    """A fixture folder's expected.yml: the incidents its positive and negative cases raise."""
    path = folder / "expected.yml"
    try:
        spec = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise RuleError(f"{path}: {e}") from e
    if not isinstance(spec, dict) or not all(
        isinstance(spec.get(k) or [], list) for k in ("positive", "negative")
    ):
        raise RuleError(f"{path}: expected a mapping with lists 'positive' and 'negative'")
    return spec


def compare_case(
    rule: str, case: str, expected: list[dict[str, Any]], found: list[Incident]
) -> CaseResult:
    """How the incidents ``found`` for one case compare with those ``expected``."""
    shown = [
        {"group": dict(i.group), "event_count": i.event_count, "start": i.start_time.isoformat()}
        for i in found
    ]
    out = CaseResult(rule, case, expected, shown)
    unmatched = list(found)
    for exp in expected:
        group = {str(k): str(v) for k, v in (exp.get("group") or {}).items()}
        hit = next((i for i in unmatched if i.group == group), None)
        if hit is None:
            out.problems.append(f"expected an incident for {group}, none found")
            continue
        unmatched.remove(hit)
        if not isinstance(exp, dict):
            raise RuleError(f"{rule}: an expected incident must be a mapping, got {exp!r}")
        if "event_count" in exp and hit.event_count != int(exp["event_count"]):
            out.problems.append(
                f"{group}: {hit.event_count} events, expected {int(exp['event_count'])}"
            )
        if "event_count_at_least" in exp and hit.event_count < int(exp["event_count_at_least"]):
            out.problems.append(
                f"{group}: {hit.event_count} events, expected at least "
                f"{int(exp['event_count_at_least'])}"
            )
    for extra in unmatched:
        out.problems.append(f"unexpected incident for {extra.group} ({extra.event_count} events)")
    return out


# -- conversion report --------------------------------------------------------------------


@dataclass
class ConvertReport:
    root: str
    files: int
    loaded: int
    converted: int
    ran: int
    problems: list[RuleProblem]
    queries: dict[str, str] = field(default_factory=dict)  # rule -> predicate SQL

    @property
    def converted_share(self) -> float:
        return self.converted / self.loaded if self.loaded else 0.0


def convert_report(
    root: Path, hot: HotStore | None, sample: Callable[[], Any] | None = None
) -> ConvertReport:
    """Load and convert every rule under ``root``; with ``hot``, run each converted rule's
    predicate over it (after loading ``sample()`` events, so every predicate is evaluated
    on rows and not only planned)."""
    rule_set: RuleSet = load_rule_set(root)
    ran = 0
    problems = list(rule_set.problems)
    queries = {r.name: r.predicate for r in rule_set.rules}
    if hot is not None:
        if sample is not None:
            hot.load_events(sample())
        now = datetime.now(UTC)
        for rule in rule_set.rules:
            try:
                hot.count_matches(rule.predicate, now - timedelta(days=3650), now)
                ran += 1
            except psycopg.Error as e:
                problems.append(
                    RuleProblem(rule.source, rule.name, "run", str(e).strip().splitlines()[0])
                )
    return ConvertReport(
        str(root),
        rule_set.files,
        rule_set.loaded,
        rule_set.converted,
        ran,
        problems,
        queries,
    )


# -- retro-hunt ---------------------------------------------------------------------------


@dataclass
class HuntReport:
    hunt: str
    days: list[date]
    rules: list[str]
    incidents: int
    diff: list[dict[str, Any]]

    def counts(self) -> dict[str, int]:
        out = {"added": 0, "removed": 0, "changed": 0}
        for row in self.diff:
            out[row["change"]] += 1
        return out


def hunt_name(rules: RuleSet) -> str:
    """A retro-hunt is named by the versions of the rules it runs: re-running the same
    candidate over more days adds to the same hunt."""
    key = "\0".join(sorted(r.version for r in rules.rules))
    return "hunt-" + hashlib.blake2b(key.encode(), digest_size=10).hexdigest()


def retro_hunt(
    hot: HotStore, days: Sequence[date], candidate: Detection, hunt: str | None = None
) -> HuntReport:
    """Run candidate rules over past days of the hot store without touching the live
    incidents; store their incidents as a shadow and diff them against the live ones."""
    hunt = hunt or hunt_name(candidate.rules)
    kept = hot.retained_days(days)
    incidents: list[Incident] = []
    if kept:
        found = engine.evaluate_days(hot, kept, candidate)
        if found.errors:
            raise RuleError(
                "; ".join(f"rule {name}: {why}" for name, why in sorted(found.errors.items()))
            )
        incidents = found.incidents
    hot.replace_shadow_incidents(hunt, kept, incidents)
    names = [r.name for r in candidate.rules.rules]
    return HuntReport(hunt, list(kept), names, len(incidents), hot.shadow_diff(hunt, names, kept))


def require_rules(rule_set: RuleSet) -> None:
    if not rule_set.rules:
        details = "; ".join(str(p) for p in rule_set.problems[:5])
        raise RuleError(
            f"no runnable rule in {rule_set.root}" + (f": {details}" if details else "")
        )
