"""Sensors, schedules and jobs. Built by ``build_sensors_and_jobs`` at definition time."""

from dagster import DailyPartitionsDefinition, JobDefinition, SensorDefinition

from sensors.microbatch import build_microbatch_job, build_microbatch_sensor


def build_sensors_and_jobs(
    partitions: DailyPartitionsDefinition,
) -> tuple[list[JobDefinition], list[SensorDefinition]]:
    job = build_microbatch_job(partitions)
    return [job], [build_microbatch_sensor(job)]
