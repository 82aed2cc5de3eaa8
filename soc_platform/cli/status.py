"""What runs where, for ``soc-platform status``: each store probed without changing it
(nothing is started, created or migrated), every address shown without credentials."""

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql as pgsql

from soc_platform import sql
from soc_platform.errors import SocPlatformError
from soc_platform.hot.embedded import EmbeddedPostgres
from soc_platform.lake.iceberg import DEAD_LETTER, RAW_EVENTS, Lake, LakeConfig
from soc_platform.redact import redact_text, redact_url, secrets_of, split_userinfo
from soc_platform.search.backends import unreachable_reason
from soc_platform.settings import Settings
from soc_platform.sources.landing import list_landing_files

#: search_backlog: incidents waiting for the search backend (README "Search")
HOT_TABLES = ("waf_events", "incidents", "search_backlog")
TIMEOUT_S = 3


def _line(exc: BaseException, secrets: list[str]) -> str:
    text = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)
    return redact_text(text, secrets)


def postgres_facts(dsn: str) -> dict[str, Any]:
    """Version, dialect, schema version and row counts (exact when quick, else the
    planner's estimate) of a hot store database; ``error`` when it cannot be reached."""
    secrets = secrets_of(dsn)
    try:
        conn = psycopg.connect(dsn, connect_timeout=TIMEOUT_S, autocommit=True)
    except psycopg.Error as exc:
        return {"reachable": False, "error": _line(exc, secrets)}
    facts: dict[str, Any] = {"reachable": True}
    with conn:
        version, timescaledb, set_up = conn.execute(sql.query("status_server")).fetchone() or (
            None,
            False,
            False,
        )
        facts["version"] = version
        facts["timescaledb_installed"] = bool(timescaledb)
        if not set_up:
            facts["dialect"] = None
            facts["schema_version"] = 0
            return facts
        row = conn.execute(sql.query("status_schema")).fetchone()
        facts["schema_version"], facts["dialect"] = row if row else (0, None)
        conn.execute(sql.query("status_timeout"))
        rows: dict[str, Any] = {}
        for table in HOT_TABLES:
            try:
                counted = conn.execute(
                    sql.query("status_count").format(table=pgsql.Identifier(table))
                ).fetchone()
                rows[table] = int(counted[0]) if counted else 0
            except psycopg.errors.QueryCanceled:
                estimate = conn.execute(sql.query("status_estimate"), {"table": table}).fetchone()
                rows[table] = f"~{int(estimate[0]):,}" if estimate and estimate[0] else "unknown"
            except psycopg.Error as exc:
                rows[table] = f"unreadable: {_line(exc, secrets)}"
        facts["rows"] = rows
    return facts


def hot_status(settings: Settings) -> dict[str, Any]:
    if not settings.embedded_pg:
        assert settings.pg_dsn is not None
        return {"mode": "external", "dsn": redact_url(settings.pg_dsn)} | postgres_facts(
            settings.pg_dsn
        )
    server = EmbeddedPostgres(settings.pg_data_dir, settings.pg_port, settings.pg_bin_dir)
    state = server.state()
    info: dict[str, Any] = {
        "mode": "embedded",
        "data_dir": str(server.root),
        "initialized": server.initialized(),
        "running": state.running,
        "pid": state.pid,
        "port": state.port if state.running else (settings.pg_port or server.remembered_port()),
        "port_from": "SOC_PG_PORT" if settings.pg_port else "chosen, remembered in the data dir",
    }
    if state.running:
        info |= postgres_facts(server.dsn())
    return info


def lake_status(settings: Settings) -> dict[str, Any]:
    config = LakeConfig.from_settings(settings)
    info: dict[str, Any] = {
        "catalog": redact_url(config.catalog_uri),
        "warehouse": redact_url(config.warehouse),
        "namespace": config.namespace,
    }
    if config.s3_endpoint:
        info["s3_endpoint"] = redact_url(config.s3_endpoint)
    if config.catalog_uri.startswith("sqlite:///"):
        if not Path(config.catalog_uri.removeprefix("sqlite:///")).is_file():
            info["tables"] = {}
            info["note"] = "no catalog yet (created by the first run)"
            return info
    tables: dict[str, Any] = {}
    try:
        lake = Lake(config)
        for name in (RAW_EVENTS, DEAD_LETTER):
            if not lake.catalog.table_exists(f"{config.namespace}.{name}"):
                continue
            snapshot = lake.table(name).current_snapshot()
            summary = snapshot.summary if snapshot and snapshot.summary else None
            total = summary.additional_properties.get("total-records") if summary else None
            tables[name] = int(total) if total is not None else 0
    except Exception as exc:  # the catalog or warehouse unreachable: say so, go on
        info["error"] = (
            str(exc) if isinstance(exc, SocPlatformError) else _line(exc, config.secrets)
        )
    info["tables"] = tables
    return info


def meilisearch_health(url: str) -> dict[str, Any]:
    """GET /health (no key needed): ``available``, or why not."""
    clean, _, _ = split_userinfo(url)
    try:
        with urllib.request.urlopen(clean.rstrip("/") + "/health", timeout=TIMEOUT_S) as resp:
            body = json.loads(resp.read() or b"{}")
        return {"health": str(body.get("status", "unknown"))}
    except urllib.error.HTTPError as exc:
        return {"health": f"HTTP {exc.code}"}
    except (OSError, ValueError) as exc:
        return {"health": f"unreachable ({unreachable_reason(exc)})"}


def search_status(settings: Settings) -> dict[str, Any]:
    if settings.meili_url:
        return {
            "backend": "meilisearch",
            "url": redact_url(settings.meili_url),
        } | meilisearch_health(settings.meili_url)
    return {"backend": "embedded", "where": "the hot store's incidents table"}


def landing_status(settings: Settings) -> dict[str, Any]:
    info: dict[str, Any] = {"dir": str(settings.landing_dir)}
    try:
        files = list_landing_files(settings.landing_dir)
    except SocPlatformError as exc:
        return info | {"error": str(exc)}
    return info | {"files_waiting": len(files), "bytes_waiting": sum(f.size for f in files)}


def status(settings: Settings) -> dict[str, Any]:
    """Every part's state, fit to print and to dump as JSON."""
    return {
        "data_dir": str(settings.data_dir),
        "hot_store": hot_status(settings),
        "lake": lake_status(settings),
        "search": search_status(settings),
        "landing": landing_status(settings),
        "dagster_home": str(settings.dagster_home),
    }
