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

from sensors.alerts import alerts_job, build_alerts_sensor
from sensors.maintenance import build_maintenance
from sensors.microbatch import build_microbatch_job, build_microbatch_sensor
from sensors.sources import source_sensors
from soc_platform.flow.keys import QUARANTINE_CHECK, RAW


def build_sensors_and_jobs(
    partitions: DailyPartitionsDefinition,
    sensor_interval_seconds: int = 60,
    s3_running: bool = False,
    nats_running: bool = False,
    alerting: bool = False,
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
    # alerting configured: its job and the sensor that drains what the micro-batch left
    alert_jobs = [alerts_job] if alerting else []
    alert_sensors = [build_alerts_sensor(alerts_job)] if alerting else []
    return (
        [job, check_job, *jobs, *alert_jobs],
        [
            build_microbatch_sensor(job, check_job, sensor_interval_seconds),
            *source_sensors(job, check_job, sensor_interval_seconds, s3_running, nats_running),
            *alert_sensors,
        ],
        schedules,
    )
