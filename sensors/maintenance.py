"""Scheduled upkeep: the daily maintenance job (hot store retention, landing archive
pruning) and the freshness check.

Both schedules run by default (``DefaultScheduleStatus.RUNNING``) once the daemon runs.
"""

from datetime import UTC, datetime
from pathlib import Path

from dagster import (
    AssetCheckKey,
    AssetSelection,
    DefaultScheduleStatus,
    JobDefinition,
    MetadataValue,
    OpExecutionContext,
    ScheduleDefinition,
    define_asset_job,
    in_process_executor,
    job,
    op,
)
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition as UnresolvedAssetJob,
)

from soc_platform.flow.keys import FRESHNESS_CHECK, HOT, INCIDENTS, NOISY_RULES_CHECK
from soc_platform.flow.resources import HotStoreResource, LandingResource
from soc_platform.sources.landing import prune_archive


@op
def maintain_hot_store(context: OpExecutionContext, hot: HotStoreResource) -> None:
    """Retention and dialect upkeep (see HotStore.maintain)."""
    report = hot.store().maintain()
    context.log.info(f"hot store maintenance: {report}")
    for failure in report.failed_jobs:
        context.log.warning(f"TimescaleDB policy job failing: {failure}")
    context.add_output_metadata(
        {
            "dialect": report.dialect,
            "partitions_created": MetadataValue.json(report.partitions_created),
            "partitions_dropped": MetadataValue.json(report.partitions_dropped),
            "aggregate_rows_pruned": MetadataValue.json(report.aggregate_rows_pruned),
            "policies_changed": MetadataValue.json(report.policies_changed),
            "failed_policy_jobs": MetadataValue.json(report.failed_jobs),
        }
    )


@op
def prune_landing_archive(context: OpExecutionContext, landing: LandingResource) -> None:
    """Archived landing files (SOC_LANDING_DONE=archive) older than SOC_LANDING_ARCHIVE_DAYS
    go (the lake keeps every raw line)."""
    pruned = prune_archive(
        Path(landing.archive_dir), landing.archive_days, datetime.now(UTC).date()
    )
    context.log.info(f"landing archive: {len(pruned)} day folder(s) pruned")
    context.add_output_metadata({"archive_days_pruned": MetadataValue.json(pruned)})


@job(
    name="hot_maintenance_job",
    description="Daily: create upcoming day partitions, apply retention (drop expired "
    "partitions / re-assert TimescaleDB policies), prune aggregates past their retention, "
    "prune the landing archive.",
    executor_def=in_process_executor,
)
def hot_maintenance_job() -> None:
    maintain_hot_store()
    prune_landing_archive()


def build_maintenance() -> tuple[
    list[JobDefinition | UnresolvedAssetJob], list[ScheduleDefinition]
]:
    freshness_job = define_asset_job(
        "hot_freshness_job",
        selection=AssetSelection.checks(
            AssetCheckKey(HOT, FRESHNESS_CHECK), AssetCheckKey(INCIDENTS, NOISY_RULES_CHECK)
        ),
        description="Checks that the newest hot event is recent enough, and that no rule "
        "is noisy (too many of its incidents closed as false positives).",
        executor_def=in_process_executor,
    )
    schedules = [
        ScheduleDefinition(
            name="hot_maintenance_schedule",
            job=hot_maintenance_job,
            cron_schedule="15 3 * * *",
            execution_timezone="UTC",
            default_status=DefaultScheduleStatus.RUNNING,
            description="Daily hot store maintenance at 03:15 UTC.",
        ),
        ScheduleDefinition(
            name="hot_freshness_schedule",
            job=freshness_job,
            cron_schedule="*/15 * * * *",
            execution_timezone="UTC",
            default_status=DefaultScheduleStatus.RUNNING,
            description="Hot store freshness check every 15 minutes.",
        ),
    ]
    return [hot_maintenance_job, freshness_job], schedules
