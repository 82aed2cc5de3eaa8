"""Correlation over the hot store, and retro-hunts of candidate rules.

* ``detection/incidents``: a materialization re-evaluates every window of its days with the
  deployment's rules; its check ``rule_set_loads`` reports every rule that fails to load or
  convert.
* ``detection/retro_hunt``: a candidate rule set (a directory, optionally some rules of it)
  over past days of the hot store, as a backfill of day partitions; its incidents are kept
  apart and diffed against the live ones (added / removed / changed) before going live.
"""

from collections.abc import Iterator

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    Config,
    DailyPartitionsDefinition,
    MaterializeResult,
    MetadataValue,
)

from assets.util import day_asset, partition_days
from soc_platform.correlation.ruleset import RuleSet
from soc_platform.errors import RuleError
from soc_platform.flow import rules as rulework
from soc_platform.flow.resources import DetectionResource, HotStoreResource
from soc_platform.incidents import engine

INCIDENTS = AssetKey(["detection", "incidents"])
RETRO_HUNT = AssetKey(["detection", "retro_hunt"])
RULES_CHECK = "rule_set_loads"


class RetroHuntConfig(Config):
    """Which rules to hunt with: a directory of Sigma rules (empty: the deployed set) and
    optionally only some rules of it by name."""

    rules_dir: str = ""
    rules: list[str] = []  # noqa: RUF012 (pydantic copies defaults)


def build_detection_assets(partitions: DailyPartitionsDefinition) -> list[AssetsDefinition]:
    @day_asset(
        "detection/incidents",
        "hot/waf_events",
        partitions,
        "postgres",
        "Incidents of the Sigma rule set (deterministic ids: rule, group, first window) in the "
        "`incidents` table, the system of record.",
        check_specs=[
            AssetCheckSpec(
                RULES_CHECK,
                asset=INCIDENTS,
                description="Every rule of the rule set loads and converts to SQL.",
            )
        ],
    )
    def incidents(
        context: AssetExecutionContext, hot: HotStoreResource, detection: DetectionResource
    ) -> Iterator[MaterializeResult | AssetCheckResult]:  # type: ignore[type-arg]
        days = partition_days(context)
        loaded = detection.load()
        report = engine.correlate_days(hot.store(), days, loaded)
        yield rule_set_check(loaded.rules, report.rule_errors)
        yield MaterializeResult(
            metadata={
                "days": len(days),
                "rules": len(loaded.rules.rules),
                "windows_evaluated": report.windows_evaluated,
                "incidents": len(report.incidents),
                "incidents_suppressed": report.suppressed,
                "incidents_changed": report.changed,
                "incidents_retired": len(report.superseded),
                "per_rule": MetadataValue.json(report.per_rule),
            }
        )

    @day_asset(
        "detection/retro_hunt",
        "hot/waf_events",
        partitions,
        "postgres",
        "Retro-hunt: candidate rules over past days of the hot store; incidents in "
        "`shadow_incidents`, with a diff against the live ones. Launch it as a backfill "
        "(or `soc-platform rules hunt`).",
    )
    def retro_hunt(
        context: AssetExecutionContext,
        config: RetroHuntConfig,
        hot: HotStoreResource,
        detection: DetectionResource,
    ) -> MaterializeResult:  # type: ignore[type-arg]
        candidate = detection.load(config.rules_dir or None)
        if config.rules:
            missing = sorted(set(config.rules) - {r.name for r in candidate.rules.rules})
            if missing:
                raise RuleError(f"no rule named {', '.join(missing)} in the set")
            candidate = candidate.only(*config.rules)
        rulework.require_rules(candidate.rules)
        report = rulework.retro_hunt(hot.store(), partition_days(context), candidate)
        counts = report.counts()
        diff = [
            {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
            for row in report.diff[:200]
        ]
        table = "\n".join(
            f"| {d['change']} | {d['rule']} | {d['group_key']} | {d['window_start']} | "
            f"{d['live_events']} | {d['shadow_events']} |"
            for d in diff[:50]
        )
        return MaterializeResult(
            metadata={
                "hunt": report.hunt,
                "rules": MetadataValue.json(report.rules),
                "days": len(report.days),
                "incidents": report.incidents,
                **counts,
                "diff": MetadataValue.json(diff),
                "diff_table": MetadataValue.md(
                    "| change | rule | group | first window | live events | shadow events |\n"
                    "|---|---|---|---|---|---|\n" + table
                ),
            }
        )

    return [incidents, retro_hunt]


def rule_set_check(rule_set: RuleSet, run_errors: dict[str, str] | None = None) -> AssetCheckResult:
    """Load, conversion and query problems of the rule set (WARN: the other rules still
    run)."""
    problems = [str(p) for p in rule_set.problems] + [
        f"{name}: run: {why}" for name, why in sorted((run_errors or {}).items())
    ]
    return AssetCheckResult(
        check_name=RULES_CHECK,
        asset_key=INCIDENTS,
        passed=not problems,
        severity=AssetCheckSeverity.WARN,
        description=(
            f"{len(rule_set.rules)} rule(s) running"
            if not problems
            else f"{len(problems)} rule problem(s); first: {problems[0]}"
        ),
        metadata={
            "rules_dir": rule_set.root,
            "rules_running": len(rule_set.rules) - len(run_errors or {}),
            "loaded": rule_set.loaded,
            "converted": rule_set.converted,
            "disabled": MetadataValue.json(rule_set.disabled),
            "problems": MetadataValue.json(problems),
        },
    )
