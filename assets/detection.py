"""Correlation over the hot store. A materialization re-evaluates every window of the days."""

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    DailyPartitionsDefinition,
    MaterializeResult,
    MetadataValue,
)

from assets.util import day_asset, partition_days
from soc_platform import engine
from soc_platform.resources import HotStoreResource


def build_detection_assets(partitions: DailyPartitionsDefinition) -> list[AssetsDefinition]:
    @day_asset(
        "detection/incidents",
        "hot/waf_events",
        partitions,
        "postgres",
        "Incidents (deterministic ids: rule, group, window) in the `incidents` "
        "table, the system of record.",
    )
    def incidents(context: AssetExecutionContext, hot: HotStoreResource) -> MaterializeResult:  # type: ignore[type-arg]
        days = partition_days(context)
        report = engine.correlate_days(hot.store(), days)
        return MaterializeResult(
            metadata={
                "days": len(days),
                "windows_evaluated": report.windows_evaluated,
                "incidents": len(report.incidents),
                "incidents_changed": report.changed,
                "per_rule": MetadataValue.json(report.per_rule),
            }
        )

    return [incidents]
