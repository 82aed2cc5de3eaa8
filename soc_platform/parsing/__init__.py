"""Raw bytes -> canonical events. One module per log format; pure (no I/O, no Dagster).

A parser is a function ``(LineBlock, source_file, ingested_at) -> ParseResult``. Register
new formats (AWS WAF, ModSecurity, Cloudflare) in ``PARSERS``.
"""

from collections.abc import Callable
from datetime import datetime

from soc_platform.errors import ConfigurationError
from soc_platform.parsing import waf_json
from soc_platform.parsing.base import ParseResult
from soc_platform.parsing.jsonl import LineBlock, split_lines

Parser = Callable[[LineBlock, str, datetime], ParseResult]

PARSERS: dict[str, Parser] = {waf_json.FORMAT: waf_json.parse}
DEFAULT_FORMAT = waf_json.FORMAT


def get_parser(name: str) -> Parser:
    """The parser registered under ``name``."""
    try:
        return PARSERS[name]
    except KeyError:
        known = ", ".join(sorted(PARSERS))
        raise ConfigurationError(f"unknown log format {name!r}; known formats: {known}") from None


__all__ = ["DEFAULT_FORMAT", "PARSERS", "LineBlock", "ParseResult", "get_parser", "split_lines"]
