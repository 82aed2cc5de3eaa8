"""Settings of the S3 and NATS sources (README "Sources")."""

import pytest

from soc_platform.errors import ConfigurationError
from soc_platform.settings import load_settings
from soc_platform.sources.nats import NatsSource, source_from_settings
from soc_platform.sources.s3 import S3Source, area_from_settings


def test_defaults_configure_no_source() -> None:
    s = load_settings({})
    assert (s.s3_bucket, s.s3_prefix, s.nats_url) == (None, "", None)
    assert (s.nats_stream, s.nats_subject, s.nats_consumer) == ("WAF", "waf.>", "soc-platform")
    assert (s.nats_batch, s.nats_wait_seconds, s.nats_ack_wait_seconds) == (10_000, 5, 600)
    with pytest.raises(ConfigurationError, match="SOC_S3_BUCKET"):
        area_from_settings(s)
    with pytest.raises(ConfigurationError, match="SOC_NATS_URL"):
        source_from_settings(s)


def test_s3_source_reuses_the_lake_s3_settings() -> None:
    s = load_settings(
        {
            "SOC_S3_BUCKET": "aws-waf-logs-x",
            "SOC_S3_PREFIX": "/AWSLogs/1/WAFLogs/",
            "SOC_S3_ENDPOINT": "http://minio:9000",
            "SOC_S3_ACCESS_KEY_ID": "k",
            "SOC_S3_SECRET_ACCESS_KEY": "s",
            "SOC_LANDING_DONE": "archive",
        }
    )
    area = area_from_settings(s)
    assert area.source == "s3://aws-waf-logs-x/AWSLogs/1/WAFLogs/"
    assert area.config.endpoint == "http://minio:9000" and area.config.secret_access_key == "s"
    assert area.done == "archive"
    assert area.source_file("AWSLogs/1/a.log.gz") == "s3://aws-waf-logs-x/AWSLogs/1/a.log.gz"


def test_s3_prefix_may_not_lie_under_where_objects_are_moved() -> None:
    with pytest.raises(ConfigurationError, match="processed or quarantine"):
        S3Source(bucket="b", prefix="processed/2026-12-01/")


def test_nats_settings_are_checked() -> None:
    env = {"SOC_NATS_URL": "nats://user:pw@nats:4222", "SOC_NATS_BATCH": "500"}
    s = load_settings(env)
    source = source_from_settings(s)
    assert (source.url, source.batch, source.source_file) == (
        "nats://user:pw@nats:4222",
        500,
        "nats:WAF",
    )
    assert "pw" in s.secrets
    with pytest.raises(ConfigurationError, match="must start with nats://"):
        load_settings({"SOC_NATS_URL": "http://nats:4222"})
    with pytest.raises(ConfigurationError, match="SOC_NATS_BATCH"):
        load_settings({"SOC_NATS_BATCH": "0"})
    with pytest.raises(ConfigurationError, match="SOC_NATS_ACK_WAIT_SECONDS"):
        load_settings({"SOC_NATS_ACK_WAIT_SECONDS": "soon"})
    with pytest.raises(ConfigurationError):
        NatsSource(url="nats://x", batch=0)
