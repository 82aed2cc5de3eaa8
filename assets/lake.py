"""The raw lake. Written only by the micro-batch ingestion (landing files are transient, so
the lake cannot be "recomputed"): declared as specs whose materializations the micro-batch
job reports per event day. Everything downstream rebuilds from here."""

from datetime import UTC, datetime

from dagster import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetSpec,
    DailyPartitionsDefinition,
    asset_check,
)

from soc_platform.flow.checks import check_lake_day_files, quarantine_check
from soc_platform.flow.keys import DAY_FILES_CHECK, DEAD, QUARANTINE_CHECK, RAW, check_result
from soc_platform.flow.resources import HotStoreResource, LakeResource, LandingResource


def build_lake_specs(partitions: DailyPartitionsDefinition) -> list[AssetSpec]:
    return [
        AssetSpec(
            key=RAW,
            group_name="lake",
            partitions_def=partitions,
            description=(
                "Every raw WAF event, verbatim (`raw`) plus its parsed columns, in the Iceberg "
                "table `soc.raw_waf_events`, hidden-partitioned by day(event_time). Source of "
                "truth; readable with pyiceberg, DuckDB, Spark, Trino."
            ),
            kinds={"iceberg"},
            metadata={"table": "soc.raw_waf_events"},
        ),
        AssetSpec(
            key=DEAD,
            group_name="lake",
            description=(
                "Input lines that did not become events (invalid JSON, missing fields, bad IP "
                "or timestamp, wrong types), with raw line, source file, line offset and reason."
            ),
            kinds={"iceberg"},
            metadata={"table": "soc.dead_letter"},
        ),
    ]


@asset_check(
    asset=RAW,
    name=QUARANTINE_CHECK,
    description="No landing file is quarantined (a file that kept failing alone, or that a "
    "run could read only partly, is moved aside and named here). Evaluated by every "
    "micro-batch and right after the sensor quarantines a file.",
)
def landing_quarantine_empty(hot: HotStoreResource, landing: LandingResource) -> AssetCheckResult:
    outcome = quarantine_check(landing.ledger(hot))
    return check_result(outcome, QUARANTINE_CHECK, AssetCheckSeverity.ERROR)


@asset_check(
    asset=RAW,
    name=DAY_FILES_CHECK,
    description="No closed day of the lake holds more than SOC_LAKE_MAX_FILES_PER_DAY data "
    "files (lake_maintenance_job compacts them). Evaluated after each lake maintenance.",
)
def lake_day_files(lake: LakeResource) -> AssetCheckResult:
    outcome = check_lake_day_files(lake.lake(), lake.max_files_per_day, datetime.now(UTC).date())
    return check_result(outcome, DAY_FILES_CHECK, AssetCheckSeverity.WARN)


def build_lake_checks() -> list[AssetChecksDefinition]:
    return [landing_quarantine_empty, lake_day_files]
