"""Dagster assets by layer. Built by ``build_assets`` (nothing is defined at import time)."""

from dagster import (
    AssetChecksDefinition,
    AssetsDefinition,
    AssetSpec,
    DailyPartitionsDefinition,
)

from assets.detection import build_detection_assets, build_detection_checks
from assets.hot import build_hot_assets, build_hot_checks
from assets.lake import build_lake_checks, build_lake_specs
from assets.search import build_search_assets


def build_assets(
    partitions: DailyPartitionsDefinition,
) -> list[AssetsDefinition | AssetSpec]:
    return [
        *build_lake_specs(partitions),
        *build_hot_assets(partitions),
        *build_detection_assets(partitions),
        *build_search_assets(partitions),
    ]


def build_asset_checks() -> list[AssetChecksDefinition]:
    """Checks run by their own jobs (the others run with their asset)."""
    return [*build_hot_checks(), *build_lake_checks(), *build_detection_checks()]
