"""The asset keys and check names of the flow, spelled once, and the one conversion of a
:class:`~soc_platform.flow.checks.CheckOutcome` into a Dagster check result (returned by an
asset) or check evaluation (logged by an op of the micro-batch job)."""

from typing import Any

from dagster import (
    AssetCheckEvaluation,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
)

from soc_platform.flow.checks import CheckOutcome

RAW = AssetKey(["lake", "raw_waf_events"])
DEAD = AssetKey(["lake", "dead_letter"])
HOT = AssetKey(["hot", "waf_events"])
AGGREGATE_KEYS = [
    AssetKey(["hot", "waf_events_1m"]),
    AssetKey(["hot", "waf_events_1h"]),
    AssetKey(["hot", "waf_events_daily_summary"]),
]
SUMMARY = AGGREGATE_KEYS[-1]
INCIDENTS = AssetKey(["detection", "incidents"])
RETRO_HUNT = AssetKey(["detection", "retro_hunt"])
INDEX = AssetKey(["search", "incident_index"])

#: What a backfill (reprocessing days from the lake) materializes, in dependency order.
REBUILD_KEYS = [HOT, *AGGREGATE_KEYS, INCIDENTS, INDEX]

COUNTS_CHECK = "lake_hot_counts_match"
TOTALS_CHECK = "aggregate_totals_match"
FRESHNESS_CHECK = "hot_freshness"
QUARANTINE_CHECK = "landing_quarantine_empty"
RULES_CHECK = "rule_set_loads"
DAY_FILES_CHECK = "lake_day_files"
ALERTS_CHECK = "alerts_delivered"  # no dead notification (README "Alerting")
NOISY_RULES_CHECK = "noisy_rules"
BACKLOG_CHECK = "search_backlog_empty"  # nothing waits for the search backend (README "Search")


def name(key: AssetKey) -> str:
    """``hot/waf_events``: how run reports and metadata name an asset."""
    return key.to_user_string()


def check_metadata(outcome: CheckOutcome) -> dict[str, Any]:
    return {
        k: MetadataValue.json(v) if isinstance(v, dict | list) else v
        for k, v in outcome.metadata.items()
    }


def check_result(
    outcome: CheckOutcome,
    check_name: str,
    severity: AssetCheckSeverity,
    asset_key: AssetKey | None = None,
) -> AssetCheckResult:
    """The result an asset (or asset check) returns for ``outcome``."""
    return AssetCheckResult(
        passed=outcome.passed,
        description=outcome.description,
        metadata=check_metadata(outcome),
        check_name=check_name,
        severity=severity,
        asset_key=asset_key,
    )


def check_evaluation(
    outcome: CheckOutcome, asset_key: AssetKey, check_name: str, severity: AssetCheckSeverity
) -> AssetCheckEvaluation:
    """The evaluation an op logs for ``outcome`` (``context.log_event``)."""
    return AssetCheckEvaluation(
        asset_key=asset_key,
        check_name=check_name,
        passed=outcome.passed,
        description=outcome.description,
        metadata=check_metadata(outcome),
        severity=severity,
    )
