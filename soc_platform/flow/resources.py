"""Dagster resources wrapping the stores. Typed methods, domain types in and out.

Secrets (database DSN, S3 keys, Meilisearch key, and any URL holding credentials) are
passed as ``dagster.EnvVar`` by ``definitions.py`` so they are resolved at run time and
never shown in the UI or recorded in the run storage. Values from an EnvVar arrive
untrimmed, hence the ``_clean`` below (settings.py trims what it reads).
"""

from pathlib import Path

from dagster import ConfigurableResource
from pydantic import PrivateAttr

from soc_platform import factory
from soc_platform.correlation.detection import Detection, load_assets
from soc_platform.enrich.enricher import Enricher, open_enricher
from soc_platform.hot.store import HotPolicy, HotStore
from soc_platform.lake.iceberg import Lake, LakeConfig
from soc_platform.search.backends import SearchBackend
from soc_platform.sources.ledger import LandingLedger
from soc_platform.sources.lifecycle import LandingArea
from soc_platform.sources.planning import RetryPolicy


def _clean(value: str | None) -> str | None:
    return (value or "").strip() or None


class LakeResource(ConfigurableResource):  # type: ignore[type-arg]
    """The Iceberg lake (SqlCatalog on SQLite or PostgreSQL; local or S3 warehouse)."""

    catalog_uri: str
    warehouse: str
    namespace: str = "soc"
    s3_endpoint: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    s3_region: str | None = None

    _lake: Lake | None = PrivateAttr(default=None)

    def lake(self) -> Lake:
        if self._lake is None:
            self._lake = factory.lake(
                LakeConfig(
                    catalog_uri=self.catalog_uri.strip(),
                    warehouse=self.warehouse.strip(),
                    namespace=self.namespace,
                    s3_endpoint=_clean(self.s3_endpoint),
                    s3_access_key_id=self.s3_access_key_id,
                    s3_secret_access_key=self.s3_secret_access_key,
                    s3_region=self.s3_region,
                )
            )
        return self._lake


class HotStoreResource(ConfigurableResource):  # type: ignore[type-arg]
    """The hot PostgreSQL/TimescaleDB store: ``dsn``, or the embedded cluster when unset.

    The embedded cluster's port is resolved when a run first uses the store: the running
    server's, else the one remembered in ``embedded_dir``, else a free one
    (``embedded_port`` set: that one, as SOC_PG_PORT asks)."""

    dsn: str | None = None
    embedded_dir: str | None = None
    embedded_port: int | None = None
    pg_bin_dir: str | None = None
    retention_days: int = 90
    compress_after_days: int = 7
    agg_1m_retention_days: int = 180
    agg_1h_retention_days: int = 730
    agg_1d_retention_days: int = 0
    freshness_lag_minutes: int = 60
    reopen_window_minutes: int = 24 * 60

    def policy(self) -> HotPolicy:
        return HotPolicy.of_days(
            self.retention_days,
            self.compress_after_days,
            self.agg_1m_retention_days,
            self.agg_1h_retention_days,
            self.agg_1d_retention_days,
            self.reopen_window_minutes,
        )

    _store: HotStore | None = PrivateAttr(default=None)

    def store(self) -> HotStore:
        if self._store is None:
            self._store = factory.hot_store(
                factory.HotConfig(
                    _clean(self.dsn),
                    Path(self.embedded_dir) if self.embedded_dir else None,
                    self.embedded_port,
                    self.pg_bin_dir,
                    self.policy(),
                )
            )
        return self._store


class SearchResource(ConfigurableResource):  # type: ignore[type-arg]
    """Incident search: Meilisearch when ``meili_url`` is set, else the embedded backend."""

    meili_url: str | None = None
    meili_api_key: str | None = None

    def backend(self, hot: HotStore) -> SearchBackend:
        return factory.search_backend(hot, _clean(self.meili_url), _clean(self.meili_api_key))


class LandingResource(ConfigurableResource):  # type: ignore[type-arg]
    """The landing directory the micro-batch sensor watches, where its files go when they
    leave it, and how failed files are retried (README "What happens to a landing file")."""

    path: str
    max_line_bytes: int = 1 << 20  # SOC_MAX_LINE_BYTES: longer lines are dead letters
    source_format: str = "auto"  # SOC_LANDING_FORMAT: a log format, or auto (per file)
    quarantine_dir: str
    archive_dir: str
    done: str = "delete"
    archive_days: int = 7
    retry_base_seconds: int = 60
    retry_max_seconds: int = 1800
    quarantine_after: int = 3

    def area(self) -> LandingArea:
        return LandingArea(
            Path(self.path), Path(self.quarantine_dir), Path(self.archive_dir), self.done
        )

    def ledger(self, hot: HotStoreResource) -> LandingLedger:
        """This directory's landing ledger (it lives in the hot store's database)."""
        return self.area().ledger(hot.store())

    def policy(self) -> RetryPolicy:
        return RetryPolicy(
            base_seconds=self.retry_base_seconds,
            max_seconds=self.retry_max_seconds,
            quarantine_after=self.quarantine_after,
        )


class EnrichmentResource(ConfigurableResource):  # type: ignore[type-arg]
    """What the micro-batch adds to each event: AS and country from MMDB files (``asn_db``,
    ``country_db``: a path, ``off``, or unset for the embedded DB-IP Lite files, which are
    decompressed under ``data_dir``) and host criticality from the asset map."""

    data_dir: str
    asn_db: str | None = None
    country_db: str | None = None
    assets_path: str | None = None

    def open(self) -> Enricher:
        """Open the databases and read the map (every run: a changed file takes effect on
        the next batch). Close it (``with``) when the batch is done."""
        assets = load_assets(Path(self.assets_path)) if self.assets_path else None
        return open_enricher(self.asn_db, self.country_db, Path(self.data_dir), assets)


class DetectionResource(ConfigurableResource):  # type: ignore[type-arg]
    """The deployment's rules: a directory of Sigma rules (default: the built-in pack), a
    detection config (per-rule overrides, allow-lists) and an asset-criticality map."""

    rules_dir: str | None = None
    config_path: str | None = None
    assets_path: str | None = None
    noisy_fp_ratio: float = 0.5  # the noisy_rules check: false positives among closed
    noisy_min_closed: int = 10  # ... of rules with at least this many closed incidents

    def load(self, rules_dir: str | None = None) -> Detection:
        """Load and compile (every run: a rule change takes effect on the next batch)."""
        chosen = rules_dir or self.rules_dir
        return factory.detection(
            Path(chosen) if chosen else None,
            Path(self.config_path) if self.config_path else None,
            Path(self.assets_path) if self.assets_path else None,
        )
