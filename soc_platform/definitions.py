"""The only Dagster entry point: ``workspace.yaml`` loads ``defs`` from this module.

Everything is built inside the decorated function, so importing this module reads no
environment and opens no connection.
"""

import warnings
from typing import overload

import dagster as dg

from assets import build_asset_checks, build_assets
from sensors import build_sensors_and_jobs
from soc_platform.flow.resources import (
    DetectionResource,
    EnrichmentResource,
    HotStoreResource,
    LakeResource,
    LandingResource,
    SearchResource,
)
from soc_platform.flow.source_resources import NatsSourceResource, S3SourceResource
from soc_platform.redact import has_credentials
from soc_platform.settings import Settings, load_settings


def _secret(name: str, value: str | None) -> dg.EnvVar | None:
    """Pass a secret as an EnvVar (resolved at run time, never shown) when it is set."""
    return dg.EnvVar(name) if value else None


@overload
def _address(name: str, value: str) -> str | dg.EnvVar: ...
@overload
def _address(name: str, value: str | None) -> str | dg.EnvVar | None: ...
def _address(name: str, value: str | None) -> str | dg.EnvVar | None:
    """A URL or DSN: as an EnvVar when it holds a credential (Dagster records and shows
    only the variable's name), else as is (the UI shows where the resource points)."""
    return dg.EnvVar(name) if value and has_credentials(value) else value


def build_resources(settings: Settings) -> dict[str, object]:
    return {
        # the micro-batch passes Arrow tables between its in-process steps in memory
        "mem_io": dg.mem_io_manager,
        "lake": LakeResource(
            catalog_uri=(
                dg.EnvVar("SOC_LAKE_CATALOG_URI")  # may embed a database password
                if settings.lake_catalog_uri.startswith("postgresql")
                else _address("SOC_LAKE_CATALOG_URI", settings.lake_catalog_uri)
            ),
            warehouse=_address("SOC_LAKE_WAREHOUSE", settings.lake_warehouse),
            namespace=settings.lake_namespace,
            s3_endpoint=_address("SOC_S3_ENDPOINT", settings.s3_endpoint),
            s3_access_key_id=_secret("SOC_S3_ACCESS_KEY_ID", settings.s3_access_key_id),
            s3_secret_access_key=_secret("SOC_S3_SECRET_ACCESS_KEY", settings.s3_secret_access_key),
            s3_region=settings.s3_region,
        ),
        "hot": HotStoreResource(
            dsn=_secret("SOC_PG_DSN", settings.pg_dsn),
            embedded_dir=str(settings.pg_data_dir),
            embedded_port=settings.pg_port,
            pg_bin_dir=settings.pg_bin_dir,
            retention_days=settings.hot_retention_days,
            compress_after_days=settings.hot_compress_after_days,
            agg_1m_retention_days=settings.agg_1m_retention_days,
            agg_1h_retention_days=settings.agg_1h_retention_days,
            agg_1d_retention_days=settings.agg_1d_retention_days,
            freshness_lag_minutes=settings.freshness_lag_minutes,
            reopen_window_minutes=settings.reopen_window_minutes,
        ),
        "search": SearchResource(
            meili_url=_address("MEILI_URL", settings.meili_url),
            meili_api_key=(
                dg.EnvVar(settings.meili_api_key_var) if settings.meili_api_key_var else None
            ),
        ),
        "landing": LandingResource(
            path=str(settings.landing_dir),
            max_line_bytes=settings.max_line_bytes,
            source_format=settings.landing_format,
            quarantine_dir=str(settings.quarantine_dir),
            archive_dir=str(settings.archive_dir),
            done=settings.landing_done,
            archive_days=settings.landing_archive_days,
            retry_base_seconds=settings.landing_retry_base_seconds,
            retry_max_seconds=settings.landing_retry_max_seconds,
            quarantine_after=settings.landing_quarantine_after,
        ),
        "s3": S3SourceResource(
            bucket=settings.s3_bucket,
            prefix=settings.s3_prefix,
            source_format=settings.s3_format,
            endpoint=_address("SOC_S3_ENDPOINT", settings.s3_endpoint),
            access_key_id=_secret("SOC_S3_ACCESS_KEY_ID", settings.s3_access_key_id),
            secret_access_key=_secret("SOC_S3_SECRET_ACCESS_KEY", settings.s3_secret_access_key),
            region=settings.s3_region,
            done=settings.landing_done,
        ),
        "nats": NatsSourceResource(
            url=_address("SOC_NATS_URL", settings.nats_url),
            stream=settings.nats_stream,
            subject=settings.nats_subject,
            consumer=settings.nats_consumer,
            batch=settings.nats_batch,
            wait_seconds=settings.nats_wait_seconds,
            ack_wait_seconds=settings.nats_ack_wait_seconds,
            source_format=settings.nats_format,
        ),
        "enrichment": EnrichmentResource(
            data_dir=str(settings.data_dir),
            asn_db=str(settings.geoip_asn_db) if settings.geoip_asn_db else None,
            country_db=str(settings.geoip_country_db) if settings.geoip_country_db else None,
            assets_path=str(settings.asset_criticality) if settings.asset_criticality else None,
        ),
        "detection": DetectionResource(
            rules_dir=str(settings.rules_dir) if settings.rules_dir else None,
            config_path=str(settings.detection_config) if settings.detection_config else None,
            assets_path=str(settings.asset_criticality) if settings.asset_criticality else None,
            noisy_fp_ratio=settings.noisy_rule_fp_ratio,
            noisy_min_closed=settings.noisy_rule_min_closed,
        ),
    }


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    """Assemble assets, jobs, sensors and resources for ``settings`` (default: from env)."""
    settings = settings or load_settings()
    partitions = dg.DailyPartitionsDefinition(
        start_date=settings.partitions_start.isoformat(), end_offset=1, timezone="UTC"
    )
    with warnings.catch_warnings():
        # backfill_policy and sensor owners are marked beta; we rely on them knowingly
        warnings.simplefilter("ignore", dg.BetaWarning)
        jobs, sensors, schedules = build_sensors_and_jobs(
            partitions,
            settings.sensor_interval_seconds,
            s3_running=settings.s3_bucket is not None,
            nats_running=settings.nats_url is not None,
        )
        assets = build_assets(partitions)
    return dg.Definitions(
        assets=assets,
        asset_checks=build_asset_checks(),
        jobs=jobs,
        sensors=sensors,
        schedules=schedules,
        resources=build_resources(settings),
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
