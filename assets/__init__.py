"""Dagster assets by layer. Built by ``build_assets`` (nothing is defined at import time)."""

from dagster import AssetsDefinition, AssetSpec, DailyPartitionsDefinition

from assets.detection import build_detection_assets
from assets.hot import build_hot_assets
from assets.lake import build_lake_specs
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
