"""An S3 / MinIO prefix as a landing area: AWS WAF's own layout
(``AWSLogs/<account>/WAFLogs/<region>/<webacl>/YYYY/MM/DD/HH/mm/*.log.gz``), Firehose
objects (no extension, maybe uncompressed) or anything else holding JSON lines.

Objects go through the landing ledger like local files (``source`` is
``s3://bucket/prefix``, ``path`` the object key, ``version`` its ETag), so they are
claimed, retried, quarantined and retired the same way. Each listing covers the whole
prefix (paginated), so an object that appears late, under a key that sorts before those
already read, is still found: there is no ``StartAfter`` cursor to skip it. After a
successful run an object is deleted or moved under the processed prefix, so the prefix
holds only the backlog and each listing stays as small as it (README "Sources").
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from functools import cached_property, partial
from typing import Any

from soc_platform.errors import ConfigurationError, SocPlatformError
from soc_platform.hot.store import HotStore
from soc_platform.models import LandingFile
from soc_platform.parsing import DEFAULT_MAX_LINE_BYTES, LineBlock
from soc_platform.parsing.records import iter_record_blocks
from soc_platform.settings import Settings
from soc_platform.sources.ledger import LandingLedger

_MISSING = ("404", "NoSuchKey", "NotFound")

#: bytes asked of an object's body per read (gzip is recognised by its magic bytes)
READ_BYTES = 1 << 20


class S3SourceError(SocPlatformError):
    """The bucket cannot be listed or an object cannot be read (not a problem of the
    object's content): the run fails and its objects are retried after the backoff."""


@dataclass(frozen=True)
class S3Source:
    """Where to list (``SOC_S3_BUCKET``, ``SOC_S3_PREFIX``), how to reach it (the lake's
    ``SOC_S3_ENDPOINT``/keys/region) and where objects go when they leave the prefix."""

    bucket: str
    prefix: str = ""
    endpoint: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    region: str | None = None
    done: str = "delete"  # or "archive": moved under processed_prefix/YYYY-MM-DD/
    processed_prefix: str = "processed/"
    quarantine_prefix: str = "quarantine/"

    def __post_init__(self) -> None:
        for name in ("processed_prefix", "quarantine_prefix"):
            value = getattr(self, name)
            if not value or not value.endswith("/"):
                raise ConfigurationError(f"S3 {name} {value!r} must be non-empty and end in /")
        if self.prefix.startswith((self.processed_prefix, self.quarantine_prefix)):
            raise ConfigurationError(
                f"SOC_S3_PREFIX={self.prefix!r} lies under the processed or quarantine prefix"
            )


class S3Area:
    """The S3 prefix as a ``lifecycle.Area``: listing, reading and moving objects."""

    def __init__(self, config: S3Source, client: Any = None) -> None:
        self.config = config
        self._client = client

    @cached_property
    def client(self) -> Any:
        if self._client is not None:
            return self._client
        import boto3
        from botocore.config import Config

        c = self.config
        return boto3.client(
            "s3",
            endpoint_url=c.endpoint,
            region_name=c.region or "us-east-1",
            aws_access_key_id=c.access_key_id,
            aws_secret_access_key=c.secret_access_key,
            # MinIO and other endpoints: path-style addressing
            config=Config(
                s3={"addressing_style": "path"} if c.endpoint else {},
                retries={"max_attempts": 5, "mode": "standard"},
            ),
        )

    # -- lifecycle.Area ---------------------------------------------------------------------

    @property
    def source(self) -> str:
        return f"s3://{self.config.bucket}/{self.config.prefix}"

    @property
    def done(self) -> str:
        return self.config.done

    def ledger(self, hot: HotStore) -> LandingLedger:
        return LandingLedger(hot, self.source)

    def source_file(self, key: str) -> str:
        """The ``source_file`` events of ``key`` record."""
        return f"s3://{self.config.bucket}/{key}"

    def _ours(self, key: str) -> bool:
        c = self.config
        return not (
            key.endswith("/")  # a "folder" marker
            or key.startswith((c.processed_prefix, c.quarantine_prefix))
        )

    def list_files(self) -> list[LandingFile]:
        """Every object under the prefix (all pages), sorted by key."""
        found = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.config.bucket, Prefix=self.config.prefix
            )
            for page in pages:
                for obj in page.get("Contents", []):
                    key = obj["Key"]
                    if self._ours(key):
                        modified = obj["LastModified"].timestamp()
                        found.append(
                            LandingFile(
                                key,
                                obj["Size"],
                                int(modified * 1e9),
                                etag=obj["ETag"].strip('"'),
                            )
                        )
        except Exception as exc:
            raise self._error("list", self.config.prefix or "(whole bucket)", exc) from exc
        return sorted(found)

    def current_version(self, path: str) -> str | None:
        try:
            head = self.client.head_object(Bucket=self.config.bucket, Key=path)
        except Exception as exc:
            if _missing(exc):
                return None
            raise self._error("read", path, exc) from exc
        return str(head["ETag"]).strip('"')

    def blocks(self, key: str, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[LineBlock]:
        """The object's records, streamed (gzip recognised by its magic bytes). A missing
        object raises FileNotFoundError, a truncated gzip EOFError (after its lines): the
        batch goes on without it, as with a local file."""
        try:
            got = self.client.get_object(Bucket=self.config.bucket, Key=key)
        except Exception as exc:
            if _missing(exc):
                raise FileNotFoundError(f"s3://{self.config.bucket}/{key} is gone") from exc
            raise self._error("read", key, exc) from exc
        body = got["Body"]
        try:
            # the same record splitter as a landing file: gzip by its magic bytes, JSON
            # lines, documents (arrays, Records lists) and Firehose's concatenated records
            chunks = iter(partial(body.read, READ_BYTES), b"")
            yield from iter_record_blocks(chunks, max_line_bytes=max_line_bytes)
        finally:
            body.close()

    def _move(self, key: str, dest: str) -> str:
        """Copy ``key`` to ``dest`` (a free name beside it when taken), then delete it. A
        crash between the two leaves both; the next run finds the source again."""
        bucket = self.config.bucket
        if self.current_version(key) is None:
            raise FileNotFoundError(key)
        dest = self._free_key(dest)
        try:
            self.client.copy({"Bucket": bucket, "Key": key}, bucket, dest)
            self.client.delete_object(Bucket=bucket, Key=key)
        except Exception as exc:
            if _missing(exc):
                raise FileNotFoundError(key) from exc
            raise self._error("move", key, exc) from exc
        return dest

    def _free_key(self, dest: str) -> str:
        candidate, n = dest, 0
        while self.current_version(candidate) is not None:
            n += 1
            candidate = f"{dest}~{n}"
        return candidate

    def quarantine_file(self, path: str) -> str:
        dest = self._move(path, self.config.quarantine_prefix + path)
        return f"s3://{self.config.bucket}/{dest}"

    def restore_file(self, moved: str, path: str) -> None:
        key = moved.removeprefix(f"s3://{self.config.bucket}/")
        self._move(key, path)

    def retire_file(self, path: str, today: date) -> str | None:
        if self.config.done == "archive":
            dest = f"{self.config.processed_prefix}{today.isoformat()}/{path}"
            return f"s3://{self.config.bucket}/{self._move(path, dest)}"
        try:
            self.client.delete_object(Bucket=self.config.bucket, Key=path)
        except Exception as exc:
            raise self._error("delete", path, exc) from exc
        return None

    def _error(self, action: str, key: str, exc: Exception) -> S3SourceError:
        where = f"s3://{self.config.bucket}/{key}"
        if self.config.endpoint:
            where += f" at {self.config.endpoint}"
        return S3SourceError(
            f"cannot {action} {where}: {type(exc).__name__}: {exc} "
            "(check SOC_S3_BUCKET, SOC_S3_ENDPOINT and the S3 credentials)"
        )


def _missing(exc: Exception) -> bool:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return False
    return str(response.get("Error", {}).get("Code")) in _MISSING


def area_from_settings(settings: Settings) -> S3Area:
    """The S3 source of ``settings`` (``SOC_S3_BUCKET`` must be set)."""
    if not settings.s3_bucket:
        raise ConfigurationError(
            "the S3 source is not configured: set SOC_S3_BUCKET (and SOC_S3_PREFIX, "
            "SOC_S3_ENDPOINT for MinIO)"
        )
    return S3Area(
        S3Source(
            bucket=settings.s3_bucket,
            prefix=settings.s3_prefix,
            endpoint=settings.s3_endpoint,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
            region=settings.s3_region,
            done=settings.landing_done,
        )
    )
