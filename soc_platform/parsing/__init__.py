"""Raw bytes -> canonical events. One module per log format; pure (no I/O, no Dagster).

A parser is a function ``(LineBlock, source_file, ingested_at, *, max_line_bytes) ->
ParseResult``; formats are registered in ``PARSERS``. Sources call
:func:`~soc_platform.parsing.detect.parse_stream` / ``parse_bytes`` (bytes of any layout,
gzip or not, format configured or detected).
"""

from datetime import datetime
from typing import Protocol

from soc_platform.errors import ConfigurationError
from soc_platform.parsing import waf_json
from soc_platform.parsing.base import DEFAULT_MAX_LINE_BYTES, ParseResult
from soc_platform.parsing.formats import aws_waf, cloudflare, modsecurity
from soc_platform.parsing.lines import LineBlock, LineReader, split_lines


class Parser(Protocol):
    def __call__(
        self,
        block: LineBlock,
        source_file: str,
        ingested_at: datetime,
        *,
        max_line_bytes: int = ...,
    ) -> ParseResult: ...


PARSERS: dict[str, Parser] = {
    waf_json.FORMAT: waf_json.parse,
    aws_waf.FORMAT: aws_waf.parse,
    modsecurity.FORMAT: modsecurity.parse,
    cloudflare.FORMAT: cloudflare.parse,
}
DEFAULT_FORMAT = waf_json.FORMAT


def get_parser(name: str) -> Parser:
    """The parser registered under ``name``."""
    try:
        return PARSERS[name]
    except KeyError:
        known = ", ".join(sorted(PARSERS))
        raise ConfigurationError(f"unknown log format {name!r}; known formats: {known}") from None


__all__ = [
    "DEFAULT_FORMAT",
    "DEFAULT_MAX_LINE_BYTES",
    "PARSERS",
    "LineBlock",
    "LineReader",
    "ParseResult",
    "Parser",
    "get_parser",
    "split_lines",
]
