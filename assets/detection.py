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
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    Config,
    DailyPartitionsDefinition,
    MaterializeResult,
    MetadataValue,
    asset_check,
)

from assets.util import day_asset, partition_days
from soc_platform.errors import RuleError
from soc_platform.flow import rules as rulework
from soc_platform.flow.checks import noisy_rules_check, rule_set_check
from soc_platform.flow.keys import (
    HOT,
    INCIDENTS,
    NOISY_RULES_CHECK,
    RETRO_HUNT,
    RULES_CHECK,
    check_result,
)
from soc_platform.flow.resources import DetectionResource, HotStoreResource
from soc_platform.incidents import engine


class RetroHuntConfig(Config):
    """Which rules to hunt with: a directory of Sigma rules (empty: the deployed set) and
    optionally only some rules of it by name."""

    rules_dir: str = ""
    rules: list[str] = []  # noqa: RUF012 (pydantic copies defaults)


def build_detection_assets(partitions: DailyPartitionsDefinition) -> list[AssetsDefinition]:
    @day_asset(
        INCIDENTS,
        HOT,
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
        outcome = rule_set_check(loaded.rules, report.rule_errors)
        yield check_result(outcome, RULES_CHECK, AssetCheckSeverity.WARN)
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
        RETRO_HUNT,
        HOT,
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


def build_detection_checks() -> list[AssetChecksDefinition]:
    """Checks run by their own job (``hot_freshness_job``, every 15 minutes)."""

    @asset_check(
        asset=INCIDENTS,
        name=NOISY_RULES_CHECK,
        description="No rule has more than SOC_NOISY_RULE_FP_RATIO of its closed incidents "
        "(at least SOC_NOISY_RULE_MIN_CLOSED) closed as false positives.",
    )
    def noisy_rules(
        context: AssetCheckExecutionContext, hot: HotStoreResource, detection: DetectionResource
    ) -> AssetCheckResult:
        outcome = noisy_rules_check(
            hot.store(), detection.noisy_fp_ratio, detection.noisy_min_closed
        )
        return check_result(outcome, NOISY_RULES_CHECK, AssetCheckSeverity.WARN)

    return [noisy_rules]
