"""From settings to stores: the one place the stores are built. The command line calls it
with its :class:`Settings`; the Dagster resources (``soc_platform.flow.resources``) with
the values of their fields (secrets resolved at run time); the tests like either.

Also the one way to make a throwaway database (rule tests, ``rules convert --report``, the
test suite).
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql as pgsql

from soc_platform.correlation.detection import Detection, load_detection
from soc_platform.errors import ConfigurationError
from soc_platform.hot.embedded import EmbeddedPostgres
from soc_platform.hot.store import HotPolicy, HotStore
from soc_platform.lake.iceberg import Lake, LakeConfig
from soc_platform.search.backends import SearchBackend, make_search_backend
from soc_platform.settings import Settings
from soc_platform.sources.lifecycle import LandingArea, policy_from_settings
from soc_platform.sources.planning import RetryPolicy


@dataclass(frozen=True)
class HotConfig:
    """Where the hot store is: a server (``dsn``), else the embedded cluster in
    ``embedded_dir`` (port: ``embedded_port``, else the running/remembered/a free one)."""

    dsn: str | None = None
    embedded_dir: Path | None = None
    embedded_port: int | None = None
    pg_bin_dir: str | None = None
    policy: HotPolicy = field(default_factory=HotPolicy)

    @classmethod
    def from_settings(cls, settings: Settings) -> "HotConfig":
        return cls(
            settings.pg_dsn,
            settings.pg_data_dir,
            settings.pg_port,
            settings.pg_bin_dir,
            HotPolicy.from_settings(settings),
        )

    def embedded(self) -> EmbeddedPostgres:
        if self.embedded_dir is None:
            raise ConfigurationError("the hot store needs a DSN (SOC_PG_DSN) or a data directory")
        return EmbeddedPostgres(self.embedded_dir, self.embedded_port, self.pg_bin_dir)

    def resolve_dsn(self) -> str:
        """The server's DSN; the embedded cluster is started (or found running) first."""
        return self.dsn or self.embedded().start()


def hot_store(config: HotConfig | Settings, *, setup: bool = True) -> HotStore:
    """The hot store, its schema brought up to date (``setup``)."""
    if isinstance(config, Settings):
        config = HotConfig.from_settings(config)
    store = HotStore(config.resolve_dsn(), policy=config.policy)
    if setup:
        store.setup()
    return store


def lake(config: LakeConfig | Settings) -> Lake:
    if isinstance(config, Settings):
        config = LakeConfig.from_settings(config)
    return Lake(config)


def search_backend(
    hot: HotStore | None, meili_url: str | None, meili_api_key: str | None = None
) -> SearchBackend:
    """Meilisearch when ``meili_url`` is set, else the embedded backend over ``hot``."""
    return make_search_backend(hot, meili_url, meili_api_key)


def landing_area(settings: Settings) -> LandingArea:
    return LandingArea.from_settings(settings)


def retry_policy(settings: Settings) -> RetryPolicy:
    return policy_from_settings(settings)


def detection(
    rules_dir: Path | None = None, config_path: Path | None = None, assets_path: Path | None = None
) -> Detection:
    """The deployment's rules (default: the built-in pack) with their configuration."""
    return load_detection(rules_dir, config_path, assets_path)


def _with_dbname(dsn: str, name: str) -> str:
    """``dsn`` naming database ``name``, in the same form (a URL stays a URL: SQLAlchemy,
    the Iceberg catalog's driver, takes only URLs)."""
    parts = urlsplit(dsn)
    if parts.scheme in ("postgresql", "postgres"):
        return urlunsplit(parts._replace(path=f"/{name}"))
    return psycopg.conninfo.make_conninfo(dsn, dbname=name)


@contextmanager
def scratch_database(admin_dsn: str, prefix: str = "soc_scratch") -> Iterator[str]:
    """A new, empty database on the server of ``admin_dsn`` (its DSN), dropped afterwards
    (connections still open to it are ended)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(name)))
    try:
        yield _with_dbname(admin_dsn, name)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(
                pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(pgsql.Identifier(name))
            )
