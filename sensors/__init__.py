"""Sensors, schedules and jobs. Built by ``build_sensors_and_jobs`` at definition time."""

from dagster import (
    DailyPartitionsDefinition,
    JobDefinition,
    ScheduleDefinition,
    SensorDefinition,
)
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition as UnresolvedAssetJob,
)

from sensors.maintenance import build_maintenance
from sensors.microbatch import build_microbatch_job, build_microbatch_sensor


def build_sensors_and_jobs(
    partitions: DailyPartitionsDefinition,
) -> tuple[
    list[JobDefinition | UnresolvedAssetJob],
    list[SensorDefinition],
    list[ScheduleDefinition],
]:
    job = build_microbatch_job(partitions)
    jobs, schedules = build_maintenance()
    return [job, *jobs], [build_microbatch_sensor(job)], schedules
