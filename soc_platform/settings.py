"""The one place that reads the environment.

Every setting has an embedded default that works on a laptop and a documented
environment variable for production (see README "Configuration").
"""

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from soc_platform.errors import ConfigurationError
from soc_platform.redact import redact_url, secrets_of

if TYPE_CHECKING:
    from soc_platform.alerts.routes import AlertConfig

DEFAULT_MAX_LINE_BYTES = 1 << 20  # = soc_platform.parsing.base.DEFAULT_MAX_LINE_BYTES
#: Arrow's JSON reader takes blocks of twice the longest line in an int32.
_LINE_BYTES_RANGE = (1 << 10, 256 << 20)
#: ``SOC_GEOIP_ASN_DB=off`` / ``SOC_GEOIP_COUNTRY_DB=off``: no such enrichment
GEOIP_OFF: Literal["off"] = "off"
DEFAULT_UI_URL = "http://127.0.0.1:8080"


@dataclass(frozen=True)
class Settings:
    """Resolved configuration. Build it with :func:`load_settings`."""

    data_dir: Path
    landing_dir: Path
    lake_catalog_uri: str
    lake_warehouse: str
    lake_namespace: str
    s3_endpoint: str | None
    s3_access_key_id: str | None
    s3_secret_access_key: str | None
    s3_region: str | None
    pg_dsn: str | None
    pg_port: int | None  # None: the embedded cluster picks a free port and remembers it
    pg_bin_dir: str | None
    meili_url: str | None
    meili_api_key: str | None
    meili_api_key_var: str | None  # which variable held the key (passed on as an EnvVar)
    partitions_start: date
    dagster_home: Path
    hot_retention_days: int = 90  # 0: keep forever
    hot_compress_after_days: int = 7
    agg_1m_retention_days: int = 180
    agg_1h_retention_days: int = 730
    agg_1d_retention_days: int = 0
    freshness_lag_minutes: int = 60
    # incident lifecycle (README "Incident lifecycle")
    reopen_window_minutes: int = 24 * 60  # SOC_REOPEN_WINDOW: a closed group firing again
    noisy_rule_fp_ratio: float = 0.5  # SOC_NOISY_RULE_FP_RATIO: rules stats check warns over
    noisy_rule_min_closed: int = 10  # SOC_NOISY_RULE_MIN_CLOSED: ... with this many closed
    # analyst UI (README "Analyst UI")
    meili_search_key: str | None = None  # SOC_MEILI_SEARCH_KEY: the UI's search-only key
    rules_dir: Path | None = None  # None: the built-in rule pack (rules/)
    detection_config: Path | None = None  # per-deployment rule overrides and allow-lists
    asset_criticality: Path | None = None  # host -> criticality map
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES  # longer input lines are dead letters
    # a run's cap in bytes of lines (uncompressed; a run holds its batch in memory)
    max_run_bytes: int = 48 << 20
    landing_format: str = "auto"  # SOC_LANDING_FORMAT: a log format, or detect per file
    # landing file lifecycle (README "What happens to a landing file")
    landing_done: str = "delete"  # after a successful run: delete, or archive
    landing_archive_days: int = 7  # archive: days kept before the maintenance job prunes
    landing_retry_base_seconds: int = 60  # backoff after a run's first failure, doubling
    landing_retry_max_seconds: int = 1800  # backoff cap
    landing_quarantine_after: int = 3  # runs holding only the file that failed
    sensor_interval_seconds: int = 60  # how often the micro-batch sensor looks at landing
    # sources besides the landing directory (README "Sources"); unset: not configured
    s3_bucket: str | None = None  # SOC_S3_BUCKET: the S3/MinIO landing bucket
    s3_prefix: str = ""  # SOC_S3_PREFIX: the key prefix listed (e.g. AWSLogs/)
    s3_format: str = "auto"  # SOC_S3_FORMAT: the log format of its objects, or auto
    nats_url: str | None = None  # SOC_NATS_URL: the NATS server (JetStream)
    nats_stream: str = "WAF"
    nats_subject: str = "waf.>"
    nats_consumer: str = "soc-platform"  # the durable pull consumer
    nats_batch: int = 10_000  # messages per micro-batch at most
    nats_wait_seconds: int = 5  # how long a micro-batch waits for messages at most
    nats_ack_wait_seconds: int = 600  # unacknowledged messages are redelivered after this
    nats_format: str = "auto"  # SOC_NATS_FORMAT: the messages' log format, or auto
    # IP enrichment databases (MMDB); None: the embedded DB-IP Lite files; "off": none
    geoip_asn_db: Path | Literal["off"] | None = None
    geoip_country_db: Path | Literal["off"] | None = None
    # lake maintenance (README "Keeping the lake small")
    lake_snapshot_retention_days: int = 7  # time travel kept; older snapshots expire
    lake_orphan_grace_hours: int = 24  # unreferenced files younger than this stay
    lake_max_files_per_day: int = 32  # the lake_day_files check fails above, on closed days
    # alerting (README "Alerting"); None: not configured
    alerts: "AlertConfig | None" = None
    ui_url: str = DEFAULT_UI_URL  # SOC_UI_URL: where the analyst UI is (links in notifications)

    @property
    def embedded_pg(self) -> bool:
        """True when the hot store is the private cluster under the data directory."""
        return self.pg_dsn is None

    @property
    def pg_data_dir(self) -> Path:
        return self.data_dir / "postgres"

    @property
    def search_backend(self) -> str:
        return "meilisearch" if self.meili_url else "embedded"

    @property
    def secrets(self) -> list[str]:
        """Every credential the settings hold (passwords inside the URLs and DSNs, keys),
        for :func:`soc_platform.redact.redact_text`."""
        return secrets_of(
            self.meili_url,
            self.lake_catalog_uri,
            self.lake_warehouse,
            self.s3_endpoint,
            self.pg_dsn,
            self.nats_url,
        ) + [
            s
            for s in (
                self.meili_api_key,
                self.meili_search_key,
                self.s3_secret_access_key,
                *(self.alerts.secret_values if self.alerts else ()),
            )
            if s
        ]

    @property
    def quarantine_dir(self) -> Path:
        """Where landing files that keep failing (or were read only partly) are moved."""
        return self.data_dir / "quarantine"

    @property
    def archive_dir(self) -> Path:
        """Where processed landing files go with ``SOC_LANDING_DONE=archive``."""
        return self.data_dir / "archive"


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _days(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    text = _get(env, name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ConfigurationError(f"{name}={text!r} is not a whole number") from None
    if (value != 0 and value < minimum) or value < 0:
        raise ConfigurationError(f"{name}={value} must be 0 (off) or at least {minimum}")
    return value


#: The aggregate refresh policies look back up to 4 days (sql/migrations/0002_hot_tier);
#: raw retention must stay well clear of that, or a policy run would empty aggregate
#: buckets whose raw chunks were dropped.
MIN_RETENTION_DAYS = 7


def _hot_settings(env: Mapping[str, str]) -> dict[str, int]:
    raw = _days(env, "SOC_HOT_RETENTION_DAYS", 90, MIN_RETENTION_DAYS)
    # with raw events kept forever, aggregates are too (a pruned aggregate of a day that
    # can still receive late events would be rebuilt from one minute)
    agg_defaults = (180, 730, 0) if raw else (0, 0, 0)
    values = {
        "hot_retention_days": raw,
        "hot_compress_after_days": _days(env, "SOC_HOT_COMPRESS_AFTER_DAYS", 7, 1),
        "agg_1m_retention_days": _days(env, "SOC_AGG_1M_RETENTION_DAYS", agg_defaults[0], 1),
        "agg_1h_retention_days": _days(env, "SOC_AGG_1H_RETENTION_DAYS", agg_defaults[1], 1),
        "agg_1d_retention_days": _days(env, "SOC_AGG_1D_RETENTION_DAYS", agg_defaults[2], 1),
    }
    lag = _days(env, "SOC_FRESHNESS_LAG_MINUTES", 60, 1)
    if lag == 0:
        raise ConfigurationError("SOC_FRESHNESS_LAG_MINUTES must be at least 1")
    values["freshness_lag_minutes"] = lag
    for key, var in (
        ("agg_1m_retention_days", "SOC_AGG_1M_RETENTION_DAYS"),
        ("agg_1h_retention_days", "SOC_AGG_1H_RETENTION_DAYS"),
        ("agg_1d_retention_days", "SOC_AGG_1D_RETENTION_DAYS"),
    ):
        agg = values[key]
        # aggregates outlive the raw events: dropping raw data never takes summaries along
        if agg and (raw == 0 or agg < raw):
            raise ConfigurationError(
                f"{var}={agg} is shorter than the raw event retention "
                f"(SOC_HOT_RETENTION_DAYS={raw or '0, forever'}): aggregates must be kept "
                "at least as long as the events they summarise"
            )
    if raw and values["hot_compress_after_days"] >= raw:
        raise ConfigurationError(
            f"SOC_HOT_COMPRESS_AFTER_DAYS={values['hot_compress_after_days']} must be less "
            f"than SOC_HOT_RETENTION_DAYS={raw}"
        )
    return values


_DURATION = re.compile(r"^(\d+)\s*([mhd])$")
_DURATION_MINUTES = {"m": 1, "h": 60, "d": 24 * 60}


def _lifecycle_settings(env: Mapping[str, str]) -> dict[str, Any]:
    text = _get(env, "SOC_REOPEN_WINDOW") or "24h"
    match = _DURATION.match(text.lower())
    if not match:
        raise ConfigurationError(
            f"SOC_REOPEN_WINDOW={text!r} is not a duration (e.g. 90m, 24h, 7d; 0m: never reopen)"
        )
    ratio_text = _get(env, "SOC_NOISY_RULE_FP_RATIO") or "0.5"
    try:
        ratio = float(ratio_text)
        if not 0 < ratio <= 1:
            raise ValueError(ratio_text)
    except ValueError:
        raise ConfigurationError(
            f"SOC_NOISY_RULE_FP_RATIO={ratio_text!r} must be a ratio above 0 and at most 1 "
            "(e.g. 0.5)"
        ) from None
    return {
        "reopen_window_minutes": int(match[1]) * _DURATION_MINUTES[match[2]],
        "noisy_rule_fp_ratio": ratio,
        "noisy_rule_min_closed": _days(env, "SOC_NOISY_RULE_MIN_CLOSED", 10, 1) or 1,
    }


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read settings from ``env`` (default: the process environment).

    Raises:
        ConfigurationError: a variable is set to a value that cannot be used.
    """
    env = os.environ if env is None else env
    data_dir = Path(_get(env, "SOC_DATA_DIR") or ".soc-data").expanduser().resolve()
    landing = Path(_get(env, "SOC_LANDING_DIR") or data_dir / "landing").expanduser().resolve()
    lake_dir = data_dir / "lake"
    catalog_uri = _get(env, "SOC_LAKE_CATALOG_URI") or f"sqlite:///{lake_dir / 'catalog.db'}"
    warehouse = _get(env, "SOC_LAKE_WAREHOUSE") or (lake_dir / "warehouse").as_uri()

    port_text = _get(env, "SOC_PG_PORT")
    pg_port = None
    if port_text is not None:
        try:
            pg_port = int(port_text)
            if not 1 <= pg_port <= 65535:
                raise ValueError(port_text)
        except ValueError:
            raise ConfigurationError(
                f"SOC_PG_PORT={port_text!r} is not a TCP port number (1-65535)"
            ) from None

    start_text = _get(env, "SOC_PARTITIONS_START") or "2024-01-01"
    try:
        partitions_start = date.fromisoformat(start_text)
    except ValueError:
        raise ConfigurationError(
            f"SOC_PARTITIONS_START={start_text!r} is not a date (YYYY-MM-DD)"
        ) from None

    meili_url = _get(env, "MEILI_URL")
    if meili_url and not meili_url.startswith(("http://", "https://")):
        # no scheme, so no URL syntax to find a password by: show nothing before an '@'
        shown = redact_url("***@" + meili_url.rsplit("@", 1)[1] if "@" in meili_url else meili_url)
        raise ConfigurationError(f"MEILI_URL={shown!r} must start with http:// or https://")
    key_var = next((v for v in ("MEILI_API_KEY", "MEILI_MASTER_KEY") if _get(env, v)), None)
    if _get(env, "SOC_PG_BIN") is not None:
        # not a setting, but a likely guess: ignoring it would run other binaries unseen
        raise ConfigurationError(
            "SOC_PG_BIN is not a setting: the folder of the PostgreSQL server binaries is "
            "SOC_PG_BIN_DIR"
        )
    pg_dsn = _get(env, "SOC_PG_DSN")
    if pg_dsn and not pg_dsn.startswith(("postgresql://", "postgres://")) and "=" not in pg_dsn:
        raise ConfigurationError(
            "SOC_PG_DSN must be a libpq connection string, e.g. "
            "postgresql://user:password@host:5432/soc"
        )

    return Settings(
        data_dir=data_dir,
        landing_dir=landing,
        lake_catalog_uri=catalog_uri,
        lake_warehouse=warehouse,
        lake_namespace=_get(env, "SOC_LAKE_NAMESPACE") or "soc",
        s3_endpoint=_get(env, "SOC_S3_ENDPOINT"),
        s3_access_key_id=_get(env, "SOC_S3_ACCESS_KEY_ID"),
        s3_secret_access_key=_get(env, "SOC_S3_SECRET_ACCESS_KEY"),
        s3_region=_get(env, "SOC_S3_REGION"),
        pg_dsn=pg_dsn,
        pg_port=pg_port,
        pg_bin_dir=_get(env, "SOC_PG_BIN_DIR"),
        meili_url=meili_url,
        meili_api_key=_get(env, key_var) if key_var else None,
        meili_api_key_var=key_var,
        partitions_start=partitions_start,
        dagster_home=Path(_get(env, "DAGSTER_HOME") or data_dir / "dagster").expanduser().resolve(),
        **_hot_settings(env),
        **_lifecycle_settings(env),
        meili_search_key=_get(env, "SOC_MEILI_SEARCH_KEY"),
        rules_dir=_path(env, "SOC_RULES_DIR"),
        detection_config=_path(env, "SOC_DETECTION_CONFIG", must_exist=True),
        asset_criticality=_path(env, "SOC_ASSET_CRITICALITY", must_exist=True),
        max_line_bytes=_max_line_bytes(env),
        max_run_bytes=_max_run_bytes(env),
        landing_format=_landing_format(env),
        landing_done=_landing_done(env),
        geoip_asn_db=_geoip(env, "SOC_GEOIP_ASN_DB"),
        geoip_country_db=_geoip(env, "SOC_GEOIP_COUNTRY_DB"),
        **_landing_settings(env, data_dir, landing),
        **_source_settings(env),
        **_lake_maintenance_settings(env),
        **_alert_settings(env),
    )


class _AlertSettings(TypedDict):
    alerts: "AlertConfig | None"
    ui_url: str


def _alert_settings(env: Mapping[str, str]) -> _AlertSettings:
    """``SOC_ALERT_ROUTES`` (a routes file, whose destinations name the variables holding
    their secrets), or ``SOC_ALERT_WEBHOOK_URL`` alone (+ ``SOC_ALERT_WEBHOOK_SECRET``);
    ``SOC_UI_URL`` for the links in notifications."""
    from soc_platform.alerts import routes as alert_routes  # yaml: only when configured

    ui_url = (_get(env, "SOC_UI_URL") or DEFAULT_UI_URL).rstrip("/")
    if not ui_url.startswith(("http://", "https://")):
        raise ConfigurationError(f"SOC_UI_URL={ui_url!r} must start with http:// or https://")
    path = _path(env, "SOC_ALERT_ROUTES", must_exist=True)
    webhook = _get(env, alert_routes.WEBHOOK_URL_VAR)
    if path is not None:
        parsed = alert_routes.parse_routes(path.read_text(encoding="utf-8"), str(path))
        source = str(path)
    elif webhook is not None:
        parsed = alert_routes.simple_config(_get(env, alert_routes.WEBHOOK_SECRET_VAR) is not None)
        source = alert_routes.WEBHOOK_URL_VAR
    else:
        return {"alerts": None, "ui_url": ui_url}
    routes, destinations = parsed
    secrets: dict[str, str] = {}
    for dest in destinations.values():
        for var in dest.secret_vars:
            value = _get(env, var)
            if value is None:
                raise ConfigurationError(
                    f"alert routes {source}: destination {dest.name!r} names {var}, "
                    "which is not set (export it, or remove the destination)"
                )
            secrets[var] = value
        if dest.url_env and not secrets[dest.url_env].startswith(("http://", "https://")):
            raise ConfigurationError(
                f"{dest.url_env} (alert destination {dest.name!r}) must be an http:// or "
                "https:// URL"
            )
    config = alert_routes.AlertConfig(
        routes=routes, destinations=destinations, ui_url=ui_url, secrets=secrets, source=source
    )
    return {"alerts": config, "ui_url": ui_url}


def _max_run_bytes(env: Mapping[str, str]) -> int:
    text = _get(env, "SOC_MAX_RUN_BYTES")
    if text is None:
        return 48 << 20
    try:
        value = int(text)
    except ValueError:
        raise ConfigurationError(
            f"SOC_MAX_RUN_BYTES={text!r} is not a whole number of bytes (e.g. 50331648)"
        ) from None
    if value < 1 << 20:
        raise ConfigurationError(f"SOC_MAX_RUN_BYTES={value} must be at least 1048576 (1 MiB)")
    return value


class _SourceSettings(TypedDict):
    s3_bucket: str | None
    s3_prefix: str
    s3_format: str
    nats_url: str | None
    nats_stream: str
    nats_subject: str
    nats_consumer: str
    nats_format: str
    nats_batch: int
    nats_wait_seconds: int
    nats_ack_wait_seconds: int


def _source_settings(env: Mapping[str, str]) -> _SourceSettings:
    """``SOC_S3_*`` (bucket, prefix, format) and ``SOC_NATS_*`` (README "Sources")."""
    nats_url = _get(env, "SOC_NATS_URL")
    if nats_url and not nats_url.startswith(("nats://", "tls://", "ws://", "wss://")):
        raise ConfigurationError(
            f"SOC_NATS_URL={redact_url(nats_url)!r} must start with nats:// (or tls://)"
        )
    prefix = _get(env, "SOC_S3_PREFIX") or ""
    numbers = {}
    for name, default in (("batch", 10_000), ("wait_seconds", 5), ("ack_wait_seconds", 600)):
        variable = f"SOC_NATS_{name.upper()}"
        numbers[name] = _days(env, variable, default, 1)
        if numbers[name] == 0:
            raise ConfigurationError(f"{variable} must be at least 1")
    return {
        "s3_bucket": _get(env, "SOC_S3_BUCKET"),
        "s3_prefix": prefix.lstrip("/"),
        "s3_format": _landing_format(env, "SOC_S3_FORMAT"),
        "nats_url": nats_url,
        "nats_stream": _get(env, "SOC_NATS_STREAM") or "WAF",
        "nats_subject": _get(env, "SOC_NATS_SUBJECT") or "waf.>",
        "nats_consumer": _get(env, "SOC_NATS_CONSUMER") or "soc-platform",
        "nats_format": _landing_format(env, "SOC_NATS_FORMAT"),
        "nats_batch": numbers["batch"],
        "nats_wait_seconds": numbers["wait_seconds"],
        "nats_ack_wait_seconds": numbers["ack_wait_seconds"],
    }


def _max_line_bytes(env: Mapping[str, str]) -> int:
    text = _get(env, "SOC_MAX_LINE_BYTES")
    if text is None:
        return DEFAULT_MAX_LINE_BYTES
    lo, hi = _LINE_BYTES_RANGE
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise ConfigurationError(
            f"SOC_MAX_LINE_BYTES={text!r} is not a whole number of bytes (e.g. 1048576)"
        ) from None
    if not lo <= value <= hi:
        raise ConfigurationError(f"SOC_MAX_LINE_BYTES={value} must be from {lo} to {hi} bytes")
    return value


LANDING_DONE_MODES = ("delete", "archive")


def _landing_format(env: Mapping[str, str], variable: str = "SOC_LANDING_FORMAT") -> str:
    from soc_platform.parsing.detect import format_name  # pyarrow: only when it is read

    text = _get(env, variable) or "auto"
    try:
        return format_name(text)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{variable}: {exc}") from None


def _landing_done(env: Mapping[str, str]) -> str:
    done = (_get(env, "SOC_LANDING_DONE") or "delete").lower()
    if done not in LANDING_DONE_MODES:
        raise ConfigurationError(
            f"SOC_LANDING_DONE={done!r} must be one of: {', '.join(LANDING_DONE_MODES)}"
        )
    return done


def _landing_settings(env: Mapping[str, str], data_dir: Path, landing: Path) -> dict[str, int]:
    for folder in (data_dir / "quarantine", data_dir / "archive"):
        inside = folder.is_relative_to(landing)
        hidden = inside and any(p.startswith(".") for p in folder.relative_to(landing).parts)
        if inside and not hidden:
            raise ConfigurationError(
                f"SOC_LANDING_DIR={landing} contains {folder}, where processed or quarantined "
                "files go: they would be read again (point SOC_LANDING_DIR at its own folder)"
            )
    base = _days(env, "SOC_LANDING_RETRY_BASE_SECONDS", 60)
    cap = _days(env, "SOC_LANDING_RETRY_MAX_SECONDS", 1800)
    if cap < base:
        raise ConfigurationError(
            f"SOC_LANDING_RETRY_MAX_SECONDS={cap} is less than "
            f"SOC_LANDING_RETRY_BASE_SECONDS={base}"
        )
    quarantine_after = _days(env, "SOC_LANDING_QUARANTINE_AFTER", 3, 1)
    if quarantine_after == 0:
        raise ConfigurationError("SOC_LANDING_QUARANTINE_AFTER must be at least 1")
    interval = _days(env, "SOC_SENSOR_INTERVAL_SECONDS", 60, 5)
    if interval == 0:
        raise ConfigurationError("SOC_SENSOR_INTERVAL_SECONDS must be at least 5")
    return {
        "sensor_interval_seconds": interval,
        "landing_archive_days": _days(env, "SOC_LANDING_ARCHIVE_DAYS", 7),
        "landing_retry_base_seconds": base,
        "landing_retry_max_seconds": cap,
        "landing_quarantine_after": quarantine_after,
    }


def _lake_maintenance_settings(env: Mapping[str, str]) -> dict[str, int]:
    grace = _days(env, "SOC_LAKE_ORPHAN_GRACE_HOURS", 24, 1)
    if grace == 0:
        # a commit in flight has written files it does not reference yet
        raise ConfigurationError("SOC_LAKE_ORPHAN_GRACE_HOURS must be at least 1")
    files = _days(env, "SOC_LAKE_MAX_FILES_PER_DAY", 32, 1)
    if files == 0:
        raise ConfigurationError("SOC_LAKE_MAX_FILES_PER_DAY must be at least 1")
    return {
        "lake_snapshot_retention_days": _days(env, "SOC_LAKE_SNAPSHOT_RETENTION_DAYS", 7),
        "lake_orphan_grace_hours": grace,
        "lake_max_files_per_day": files,
    }


def fault_spec(env: Mapping[str, str] | None = None) -> str | None:
    """``SOC_FAULT`` alone (read at each fault point; see soc_platform.faults)."""
    return _get(os.environ if env is None else env, "SOC_FAULT")


def fault_marker(env: Mapping[str, str] | None = None) -> str | None:
    """``SOC_FAULT_MARKER``: the file a ``pause`` fault writes, then waits to see deleted."""
    return _get(os.environ if env is None else env, "SOC_FAULT_MARKER")


def _geoip(env: Mapping[str, str], name: str) -> Path | Literal["off"] | None:
    text = _get(env, name)
    if text is not None and text.lower() == GEOIP_OFF:
        return GEOIP_OFF
    return _path(env, name, must_exist=True)


def _path(env: Mapping[str, str], name: str, *, must_exist: bool = False) -> Path | None:
    text = _get(env, name)
    if text is None:
        return None
    path = Path(text).expanduser().resolve()
    if must_exist and not path.is_file():
        raise ConfigurationError(f"{name}={text!r}: no such file")
    return path
