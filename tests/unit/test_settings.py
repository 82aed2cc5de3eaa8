"""Unit tests for configuration loading (soc_platform.settings). Every test passes an
explicit environment mapping; the process environment is never read."""

from datetime import date
from pathlib import Path

import pytest

from soc_platform.errors import ConfigurationError, SocPlatformError
from soc_platform.settings import load_settings


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path.resolve()


def test_defaults_work_on_a_laptop(cwd: Path) -> None:
    s = load_settings({})
    data = cwd / ".soc-data"
    assert s.data_dir == data
    assert s.landing_dir == data / "landing"
    assert s.lake_catalog_uri == f"sqlite:///{data / 'lake' / 'catalog.db'}"
    assert s.lake_warehouse == (data / "lake" / "warehouse").as_uri()
    assert s.lake_warehouse.startswith("file:///")
    assert s.lake_namespace == "soc"
    assert (s.s3_endpoint, s.s3_access_key_id, s.s3_secret_access_key, s.s3_region) == (None,) * 4
    assert s.pg_dsn is None
    assert s.embedded_pg is True
    assert s.pg_port is None  # the embedded cluster picks a free port and remembers it
    assert s.pg_data_dir == data / "postgres"
    assert s.pg_bin_dir is None
    assert s.meili_url is None and s.meili_api_key is None and s.meili_api_key_var is None
    assert s.search_backend == "embedded"
    assert s.partitions_start == date(2024, 1, 1)
    assert s.dagster_home == data / "dagster"


def test_explicit_values(cwd: Path) -> None:
    env = {
        "SOC_DATA_DIR": str(cwd / "d"),
        "SOC_LANDING_DIR": str(cwd / "in"),
        "SOC_LAKE_CATALOG_URI": "postgresql+psycopg://u:p@db/catalog",
        "SOC_LAKE_WAREHOUSE": "s3://lake/warehouse",
        "SOC_LAKE_NAMESPACE": "waf",
        "SOC_S3_ENDPOINT": "http://minio:9000",
        "SOC_S3_ACCESS_KEY_ID": "ak",
        "SOC_S3_SECRET_ACCESS_KEY": "sk",
        "SOC_S3_REGION": "eu-west-3",
        "SOC_PG_DSN": "postgresql://soc:pw@db:5432/soc",
        "SOC_PG_PORT": "6543",
        "SOC_PG_BIN_DIR": "/usr/lib/postgresql/16/bin",
        "MEILI_URL": "https://search.example.com",
        "MEILI_API_KEY": "k1",
        "SOC_PARTITIONS_START": "2023-06-15",
        "DAGSTER_HOME": str(cwd / "dh"),
    }
    s = load_settings(env)
    assert s.data_dir == cwd / "d"
    assert s.landing_dir == cwd / "in"
    assert s.lake_catalog_uri == "postgresql+psycopg://u:p@db/catalog"
    assert s.lake_warehouse == "s3://lake/warehouse"
    assert s.lake_namespace == "waf"
    assert (s.s3_endpoint, s.s3_access_key_id, s.s3_secret_access_key, s.s3_region) == (
        "http://minio:9000", "ak", "sk", "eu-west-3",
    )  # fmt: skip
    assert s.pg_dsn == "postgresql://soc:pw@db:5432/soc"
    assert s.embedded_pg is False
    assert s.pg_port == 6543
    assert s.pg_bin_dir == "/usr/lib/postgresql/16/bin"
    assert s.meili_url == "https://search.example.com"
    assert s.search_backend == "meilisearch"
    assert s.meili_api_key == "k1" and s.meili_api_key_var == "MEILI_API_KEY"
    assert s.partitions_start == date(2023, 6, 15)
    assert s.dagster_home == cwd / "dh"


def test_landing_and_dagster_home_follow_data_dir(cwd: Path) -> None:
    s = load_settings({"SOC_DATA_DIR": str(cwd / "x")})
    assert s.landing_dir == cwd / "x" / "landing"
    assert s.dagster_home == cwd / "x" / "dagster"
    assert s.lake_catalog_uri.endswith(str(cwd / "x" / "lake" / "catalog.db"))


def test_relative_paths_resolved_against_cwd(cwd: Path) -> None:
    s = load_settings({"SOC_DATA_DIR": "data", "SOC_LANDING_DIR": "./drop/../in"})
    assert s.data_dir == cwd / "data"
    assert s.landing_dir == cwd / "in"
    assert s.data_dir.is_absolute() and s.landing_dir.is_absolute()


def test_home_directory_is_expanded(cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(cwd / "home"))
    s = load_settings({"SOC_DATA_DIR": "~/soc", "SOC_LANDING_DIR": "~/drop"})
    assert s.data_dir == cwd / "home" / "soc"
    assert s.landing_dir == cwd / "home" / "drop"


def test_blank_values_mean_unset(cwd: Path) -> None:
    names = (
        "SOC_DATA_DIR",
        "SOC_LANDING_DIR",
        "SOC_PG_PORT",
        "SOC_PG_DSN",
        "MEILI_URL",
        "MEILI_API_KEY",
        "SOC_PARTITIONS_START",
        "SOC_LAKE_NAMESPACE",
        "SOC_S3_ENDPOINT",
    )
    env = dict.fromkeys(names, "   ")
    s = load_settings(env)
    assert s.data_dir == cwd / ".soc-data"
    assert s.pg_port is None
    assert s.pg_dsn is None and s.embedded_pg
    assert s.meili_url is None and s.meili_api_key_var is None
    assert s.partitions_start == date(2024, 1, 1)
    assert s.lake_namespace == "soc"
    assert s.s3_endpoint is None


def test_values_are_trimmed(cwd: Path) -> None:
    s = load_settings({"SOC_PG_PORT": " 6000 ", "SOC_LAKE_NAMESPACE": " waf\n"})
    assert s.pg_port == 6000
    assert s.lake_namespace == "waf"


def test_process_environment_is_not_read_when_env_given(
    cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOC_PG_PORT", "not-a-port")
    monkeypatch.setenv("SOC_LAKE_NAMESPACE", "from-process")
    s = load_settings({})
    assert s.pg_port is None
    assert s.lake_namespace == "soc"


@pytest.mark.parametrize("port", ["1", "5432", "65535"])
def test_valid_ports(cwd: Path, port: str) -> None:
    assert load_settings({"SOC_PG_PORT": port}).pg_port == int(port)


@pytest.mark.parametrize("port", ["0", "65536", "-1", "abc", "54.3", "5432x", "1e3"])
def test_invalid_port_is_configuration_error(cwd: Path, port: str) -> None:
    with pytest.raises(ConfigurationError, match="SOC_PG_PORT") as err:
        load_settings({"SOC_PG_PORT": port})
    assert repr(port) in str(err.value)
    assert isinstance(err.value, SocPlatformError)


@pytest.mark.parametrize("start", ["2024-13-01", "01/02/2024", "yesterday", "2024-02-30"])
def test_invalid_partitions_start(cwd: Path, start: str) -> None:
    with pytest.raises(ConfigurationError, match="SOC_PARTITIONS_START"):
        load_settings({"SOC_PARTITIONS_START": start})


@pytest.mark.parametrize("url", ["localhost:7700", "ftp://search", "search.example.com"])
def test_meili_url_needs_http_scheme(cwd: Path, url: str) -> None:
    with pytest.raises(ConfigurationError, match="MEILI_URL"):
        load_settings({"MEILI_URL": url})


@pytest.mark.parametrize("url", ["http://127.0.0.1:7700", "https://search.example.com"])
def test_meili_url_accepted(cwd: Path, url: str) -> None:
    s = load_settings({"MEILI_URL": url})
    assert s.meili_url == url
    assert s.search_backend == "meilisearch"


def test_meili_key_variable_precedence(cwd: Path) -> None:
    both = load_settings({"MEILI_API_KEY": "api", "MEILI_MASTER_KEY": "master"})
    assert (both.meili_api_key, both.meili_api_key_var) == ("api", "MEILI_API_KEY")
    master = load_settings({"MEILI_MASTER_KEY": "master", "MEILI_API_KEY": " "})
    assert (master.meili_api_key, master.meili_api_key_var) == ("master", "MEILI_MASTER_KEY")


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://soc@localhost/soc",
        "postgres://u:p@h:5432/db?sslmode=require",
        "host=db port=5432 dbname=soc user=soc",
        "dbname=soc",
    ],
)
def test_pg_dsn_accepted(cwd: Path, dsn: str) -> None:
    s = load_settings({"SOC_PG_DSN": dsn})
    assert s.pg_dsn == dsn
    assert s.embedded_pg is False


@pytest.mark.parametrize("dsn", ["localhost:5432", "mysql://u@h/db", "soc"])
def test_pg_dsn_rejected(cwd: Path, dsn: str) -> None:
    with pytest.raises(ConfigurationError, match="SOC_PG_DSN"):
        load_settings({"SOC_PG_DSN": dsn})


def test_dagster_home_expands_user(cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(cwd / "home"))
    s = load_settings({"DAGSTER_HOME": "~/dagster"})
    assert s.dagster_home == cwd / "home" / "dagster"


def test_hot_tier_defaults_and_validation(cwd: Path) -> None:
    s = load_settings({})
    assert (s.hot_retention_days, s.hot_compress_after_days) == (90, 7)
    assert (s.agg_1m_retention_days, s.agg_1h_retention_days, s.agg_1d_retention_days) == (
        180,
        730,
        0,
    )
    assert s.freshness_lag_minutes == 60
    forever = load_settings({"SOC_HOT_RETENTION_DAYS": "0"})
    assert (forever.agg_1m_retention_days, forever.agg_1h_retention_days) == (0, 0)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SOC_HOT_RETENTION_DAYS": "3"}, "at least 7"),
        ({"SOC_HOT_RETENTION_DAYS": "ninety"}, "not a whole number"),
        ({"SOC_HOT_RETENTION_DAYS": "-1"}, "at least 7"),
        ({"SOC_AGG_1M_RETENTION_DAYS": "30"}, "shorter than the raw event retention"),
        (
            {"SOC_HOT_RETENTION_DAYS": "0", "SOC_AGG_1H_RETENTION_DAYS": "365"},
            "shorter than the raw event retention",
        ),
        ({"SOC_HOT_COMPRESS_AFTER_DAYS": "90"}, "must be less than SOC_HOT_RETENTION_DAYS"),
        ({"SOC_FRESHNESS_LAG_MINUTES": "0"}, "at least 1"),
    ],
)
def test_hot_tier_settings_refused(cwd: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_settings(env)


def test_max_line_bytes_default_and_explicit(cwd: Path) -> None:
    from soc_platform.parsing.base import DEFAULT_MAX_LINE_BYTES

    assert load_settings({}).max_line_bytes == DEFAULT_MAX_LINE_BYTES == 1 << 20
    assert load_settings({"SOC_MAX_LINE_BYTES": "4096"}).max_line_bytes == 4096
    assert load_settings({"SOC_MAX_LINE_BYTES": "16_777_216"}).max_line_bytes == 16 << 20


@pytest.mark.parametrize("value", ["1MiB", "-1", "0", "1023", "268435457", "1e6"])
def test_max_line_bytes_rejected(cwd: Path, value: str) -> None:
    with pytest.raises(ConfigurationError, match="SOC_MAX_LINE_BYTES"):
        load_settings({"SOC_MAX_LINE_BYTES": value})


def test_landing_lifecycle_settings(cwd: Path) -> None:
    s = load_settings({})
    assert (s.landing_done, s.landing_archive_days, s.landing_quarantine_after) == ("delete", 7, 3)
    assert (s.landing_retry_base_seconds, s.landing_retry_max_seconds) == (60, 1800)
    assert s.sensor_interval_seconds == 60
    assert s.quarantine_dir == cwd / ".soc-data" / "quarantine"
    assert s.archive_dir == cwd / ".soc-data" / "archive"
    s = load_settings(
        {
            "SOC_LANDING_DONE": "Archive",
            "SOC_LANDING_ARCHIVE_DAYS": "0",
            "SOC_LANDING_RETRY_BASE_SECONDS": "5",
            "SOC_LANDING_RETRY_MAX_SECONDS": "5",
            "SOC_LANDING_QUARANTINE_AFTER": "1",
            "SOC_SENSOR_INTERVAL_SECONDS": "15",
        }
    )
    assert (s.landing_done, s.landing_archive_days, s.landing_quarantine_after) == ("archive", 0, 1)
    assert (s.landing_retry_base_seconds, s.landing_retry_max_seconds) == (5, 5)
    assert s.sensor_interval_seconds == 15
    # a landing directory may hold the data directory under a hidden name
    hidden = load_settings({"SOC_LANDING_DIR": str(cwd), "SOC_DATA_DIR": str(cwd / ".soc")})
    assert hidden.landing_dir == cwd


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SOC_LANDING_DONE": "keep"}, "must be one of: delete, archive"),
        ({"SOC_LANDING_RETRY_BASE_SECONDS": "3600"}, "less than SOC_LANDING_RETRY_BASE_SECONDS"),
        ({"SOC_LANDING_QUARANTINE_AFTER": "0"}, "at least 1"),
        ({"SOC_SENSOR_INTERVAL_SECONDS": "1"}, "at least 5"),
        ({"SOC_LANDING_DIR": "."}, "contains .* where processed or quarantined files go"),
    ],
)
def test_landing_settings_refused(cwd: Path, env: dict[str, str], message: str) -> None:
    if env.get("SOC_LANDING_DIR") == ".":
        env = {"SOC_LANDING_DIR": str(cwd), "SOC_DATA_DIR": str(cwd / "data")}
    with pytest.raises(ConfigurationError, match=message):
        load_settings(env)


def test_pg_bin_dir_is_the_only_name_for_the_binaries(cwd: Path) -> None:
    """SOC_PG_BIN_DIR names the server binaries; SOC_PG_BIN (a likely guess) is refused
    rather than ignored, which would run other binaries without a word."""
    assert load_settings({"SOC_PG_BIN_DIR": "/opt/pg/bin"}).pg_bin_dir == "/opt/pg/bin"
    with pytest.raises(ConfigurationError, match=r"SOC_PG_BIN is not a setting.*SOC_PG_BIN_DIR"):
        load_settings({"SOC_PG_BIN": "/opt/pg/bin"})


def test_landing_format(cwd: Path) -> None:
    assert load_settings({}).landing_format == "auto"
    assert load_settings({"SOC_LANDING_FORMAT": "AWS_WAF"}).landing_format == "aws_waf"
    assert load_settings({"SOC_LANDING_FORMAT": "seed"}).landing_format == "waf_json"
    with pytest.raises(ConfigurationError, match=r"SOC_LANDING_FORMAT: unknown log format 'nginx'"):
        load_settings({"SOC_LANDING_FORMAT": "nginx"})


def test_lifecycle_settings() -> None:
    from soc_platform.settings import load_settings

    assert load_settings({}).reopen_window_minutes == 24 * 60
    got = load_settings(
        {
            "SOC_REOPEN_WINDOW": "90m",
            "SOC_NOISY_RULE_FP_RATIO": "0.3",
            "SOC_NOISY_RULE_MIN_CLOSED": "5",
        }
    )
    assert (got.reopen_window_minutes, got.noisy_rule_fp_ratio, got.noisy_rule_min_closed) == (
        90,
        0.3,
        5,
    )
    assert load_settings({"SOC_REOPEN_WINDOW": "7d"}).reopen_window_minutes == 7 * 24 * 60
    for name, value in (("SOC_REOPEN_WINDOW", "soon"), ("SOC_NOISY_RULE_FP_RATIO", "2")):
        with pytest.raises(ConfigurationError, match=name):
            load_settings({name: value})
