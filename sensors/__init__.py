"""Sensors, schedules and jobs. Built by ``build_sensors_and_jobs`` at definition time."""

from dagster import (
    AssetCheckKey,
    AssetSelection,
    DailyPartitionsDefinition,
    JobDefinition,
    ScheduleDefinition,
    SensorDefinition,
    define_asset_job,
    in_process_executor,
)
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition as UnresolvedAssetJob,
)

from sensors.maintenance import build_maintenance
from sensors.microbatch import build_microbatch_job, build_microbatch_sensor
from sensors.sources import source_sensors
from soc_platform.flow.keys import QUARANTINE_CHECK, RAW


def build_sensors_and_jobs(
    partitions: DailyPartitionsDefinition,
    sensor_interval_seconds: int = 60,
    s3_running: bool = False,
    nats_running: bool = False,
) -> tuple[
    list[JobDefinition | UnresolvedAssetJob],
    list[SensorDefinition],
    list[ScheduleDefinition],
]:
    job = build_microbatch_job(partitions)
    check_job = define_asset_job(
        "landing_check_job",
        selection=AssetSelection.checks(AssetCheckKey(RAW, QUARANTINE_CHECK)),
        description="Checks that no landing file is quarantined.",
        executor_def=in_process_executor,
    )
    jobs, schedules = build_maintenance()
    return (
        [job, check_job, *jobs],
        [
            build_microbatch_sensor(job, check_job, sensor_interval_seconds),
            *source_sensors(job, check_job, sensor_interval_seconds, s3_running, nats_running),
        ],
        schedules,
    )
