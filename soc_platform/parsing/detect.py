"""Choosing a file's format, and parsing bytes from any source.

The format is configured per source (``SOC_LANDING_FORMAT``: ``auto`` or a format name)
or, with ``auto``, detected per file from its first records: the first record that a
format recognises decides for the whole file. A file no format recognises is dead-lettered
record by record with reason ``unknown_format``, whose detail names the formats tried.

:func:`parse_bytes` and :class:`RecordParser` are what every source calls (the landing
directory, S3 objects, NATS messages): bytes in, canonical events and dead letters out,
independent of any file system.
"""

import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

import pyarrow as pa

from soc_platform.errors import ConfigurationError
from soc_platform.models import LAKE_EVENT_SCHEMA, DeadLetterReason
from soc_platform.parsing import waf_json
from soc_platform.parsing.base import DEFAULT_MAX_LINE_BYTES, ParseResult
from soc_platform.parsing.common import dead_letter_table
from soc_platform.parsing.formats import aws_waf, cloudflare, modsecurity
from soc_platform.parsing.lines import LineBlock
from soc_platform.parsing.records import iter_record_blocks

AUTO = "auto"
#: Other names accepted for a format (``seed`` is the seed's own WAF JSON).
ALIASES = {
    "seed": waf_json.FORMAT,
    "modsecurity_v3": modsecurity.FORMAT,
    "coraza": modsecurity.FORMAT,
}
#: Detection order: the most specific shapes first.
RECOGNISERS: dict[str, Callable[[dict[str, Any]], bool]] = {
    aws_waf.FORMAT: aws_waf.looks_like,
    modsecurity.FORMAT: modsecurity.looks_like,
    cloudflare.FORMAT: cloudflare.looks_like,
    waf_json.FORMAT: lambda r: "client_ip" in r and "timestamp" in r,
}
#: How many records detection reads at most (it stops at the first it recognises).
DETECT_RECORDS = 20


def format_name(name: str) -> str:
    """The canonical name of a configured format (``auto`` stays ``auto``).

    Raises:
        ConfigurationError: no such format.
    """
    from soc_platform.parsing import PARSERS

    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key != AUTO and key not in PARSERS:
        known = ", ".join([AUTO, *sorted(PARSERS), *sorted(ALIASES)])
        raise ConfigurationError(f"unknown log format {name!r}; known formats: {known}")
    return key


def detect(lines: Iterable[bytes]) -> str | None:
    """The format of the first record (of the first :data:`DETECT_RECORDS`) that a
    format recognises; None when none is recognised."""
    for n, line in enumerate(lines):
        if n >= DETECT_RECORDS:
            break
        try:
            record = json.loads(line.removeprefix(b"\xef\xbb\xbf"))
        except (ValueError, RecursionError):
            continue
        if not isinstance(record, dict):
            continue
        for fmt, recognises in RECOGNISERS.items():
            if recognises(record):
                return fmt
    return None


class RecordParser:
    """Parses the record blocks of ONE file (or object, or message batch) of a source.

    With ``auto`` the first block decides the format for the rest of the file.
    """

    def __init__(
        self,
        source_format: str,
        source_file: str,
        ingested_at: datetime,
        *,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    ) -> None:
        self.configured = format_name(source_format)
        self.chosen: str | None = None if self.configured == AUTO else self.configured
        self.unknown = False
        self.source_file = source_file
        self.ingested_at = ingested_at
        self.max_line_bytes = max_line_bytes

    def parse(self, block: LineBlock) -> ParseResult:
        """Events and dead letters of one block."""
        from soc_platform.parsing import PARSERS

        if self.chosen is None and not self.unknown and block.lines:
            self.chosen = detect(block.lines)
            self.unknown = self.chosen is None
        if self.chosen is None:
            return self._unknown(block)
        return PARSERS[self.chosen](
            block, self.source_file, self.ingested_at, max_line_bytes=self.max_line_bytes
        )

    def _unknown(self, block: LineBlock) -> ParseResult:
        tried = ", ".join(RECOGNISERS)
        detail = (
            f"no known format recognised the file's first records (tried: {tried}); "
            "set SOC_LANDING_FORMAT to one of them to read it as that format"
        )
        n = len(block.lines)
        dead = dead_letter_table(
            source_format=AUTO,
            source_file=self.source_file,
            offsets=block.offsets,
            lines=block.lines,
            reasons=[str(DeadLetterReason.UNKNOWN_FORMAT)] * n,
            details=[detail] * n,
            ingested_at=self.ingested_at,
        )
        return ParseResult(LAKE_EVENT_SCHEMA.empty_table(), dead, n)


def parse_stream(
    chunks: Iterable[bytes],
    source: str,
    ingested_at: datetime,
    *,
    source_format: str = AUTO,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    block_bytes: int = 32 << 20,
) -> Iterator[ParseResult]:
    """Parse the bytes of one file/object/message (gzip or not, any record layout), block
    by block. ``source`` names it in events and dead letters (``source_file``)."""
    parser = RecordParser(source_format, source, ingested_at, max_line_bytes=max_line_bytes)
    blocks = iter_record_blocks(chunks, block_bytes=block_bytes, max_line_bytes=max_line_bytes)
    for block in blocks:
        yield parser.parse(block)


def parse_bytes(
    data: bytes,
    source: str,
    ingested_at: datetime,
    *,
    source_format: str = AUTO,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> ParseResult:
    """Parse one whole file/object/message held in memory (see :func:`parse_stream`)."""
    results = list(
        parse_stream(
            [data], source, ingested_at, source_format=source_format, max_line_bytes=max_line_bytes
        )
    )
    if not results:
        return ParseResult(LAKE_EVENT_SCHEMA.empty_table(), _empty_dead(), 0)
    altered: dict[str, int] = {}
    for r in results:
        for k, v in r.events_altered.items():
            altered[k] = altered.get(k, 0) + v
    return ParseResult(
        pa.concat_tables([r.events for r in results]),
        pa.concat_tables([r.dead_letters for r in results]),
        sum(r.lines_read for r in results),
        altered,
    )


def _empty_dead() -> pa.Table:
    from soc_platform.models import DEAD_LETTER_SCHEMA

    return DEAD_LETTER_SCHEMA.empty_table()
