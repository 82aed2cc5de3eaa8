"""Dagster resources of the sources besides the landing directory (README "Sources"):
an S3/MinIO prefix and a NATS JetStream consumer. Unconfigured (no bucket, no URL), they
exist but their sensors stay stopped. Credentials arrive as ``EnvVar`` (definitions.py).
"""

from dagster import ConfigurableResource

from soc_platform.errors import ConfigurationError
from soc_platform.sources.nats import NatsSource
from soc_platform.sources.s3 import S3Area, S3Source


def _clean(value: str | None) -> str | None:
    return (value or "").strip() or None


class S3SourceResource(ConfigurableResource):  # type: ignore[type-arg]
    """The S3/MinIO landing prefix (``SOC_S3_BUCKET``, ``SOC_S3_PREFIX``); endpoint,
    keys and region are the lake's ``SOC_S3_*`` settings."""

    bucket: str | None = None
    prefix: str = ""
    source_format: str = "auto"
    endpoint: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    region: str | None = None
    done: str = "delete"

    @property
    def configured(self) -> bool:
        return bool(_clean(self.bucket))

    def area(self) -> S3Area:
        bucket = _clean(self.bucket)
        if not bucket:
            raise ConfigurationError("the S3 source is not configured: set SOC_S3_BUCKET")
        return S3Area(
            S3Source(
                bucket=bucket,
                prefix=self.prefix,
                endpoint=_clean(self.endpoint),
                access_key_id=_clean(self.access_key_id),
                secret_access_key=_clean(self.secret_access_key),
                region=_clean(self.region),
                done=self.done,
            )
        )


class NatsSourceResource(ConfigurableResource):  # type: ignore[type-arg]
    """The NATS JetStream durable pull consumer (``SOC_NATS_*``)."""

    url: str | None = None
    stream: str = "WAF"
    subject: str = "waf.>"
    consumer: str = "soc-platform"
    batch: int = 10_000
    wait_seconds: int = 5
    ack_wait_seconds: int = 600
    source_format: str = "auto"

    @property
    def configured(self) -> bool:
        return bool(_clean(self.url))

    def source(self) -> NatsSource:
        url = _clean(self.url)
        if not url:
            raise ConfigurationError("the NATS source is not configured: set SOC_NATS_URL")
        return NatsSource(
            url=url,
            stream=self.stream,
            subject=self.subject,
            consumer=self.consumer,
            batch=self.batch,
            wait_seconds=float(self.wait_seconds),
            ack_wait_seconds=float(self.ack_wait_seconds),
        )
