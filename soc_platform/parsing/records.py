"""Landing bytes -> blocks of records, whatever shape the shipper wrote.

- gzip is recognised by its magic bytes (``1f 8b``), not by a ``.gz`` name; files of
  several gzip members (concatenated by shippers) are read whole.
- JSON lines (``.jsonl``, ``.ndjson``, ``.log``, WAF S3 objects): one record a line,
  streamed in bounded memory (:class:`~soc_platform.parsing.lines.LineReader`); a
  CloudWatch Logs export's ``<ISO time> `` prefix before each record is dropped.
- One JSON document (``.json``): an array of records, or an object holding them in a
  list (``{"Records": [...]}``, a CloudWatch Logs subscription envelope's ``logEvents``
  whose ``message`` is the record).
- Records concatenated with no newline between them (Kinesis Data Firehose objects).

A document or concatenated file is read whole (Firehose objects are at most 128 MB); a
record's offset is then its number in the file, not a line number. A record spread over
several lines (a pretty-printed document) keeps its text with those line breaks made
spaces, so every record is one line for the JSON readers.
"""

import json
import re
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

from soc_platform.parsing.base import DEFAULT_MAX_LINE_BYTES
from soc_platform.parsing.lines import LineBlock, LineReader

GZIP_MAGIC = b"\x1f\x8b"
#: Keys of an object that holds records in a list (CloudTrail-style exports, AWS SDK
#: dumps, CloudWatch Logs subscription envelopes).
RECORD_LISTS = ("Records", "records", "logEvents", "events", "Events", "items", "data")
_CONTAINER_KEYS = ("Records", "records", "logEvents")
_WS = " \t\r\n"
_CLOUDWATCH_PREFIX = re.compile(rb"^\d{4}-\d{2}-\d{2}T[0-9:.]+(?:Z|[+-]\d{2}:?\d{2})? +(?=\{)")
_PEEK_BYTES = 1 << 20
_INFLATE_BYTES = 64 << 10


def gunzip_stream(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """``chunks`` decompressed when they start with the gzip magic bytes, else as they are.

    Raises:
        EOFError: the compressed data ends before its end-of-stream marker.
        zlib.error: the compressed data is corrupt.
    """
    it = iter(chunks)
    head = b""
    for chunk in it:
        head += chunk
        if len(head) >= 2:
            break
    if head[:2] != GZIP_MAGIC:
        box = [head]
        del head
        if box[0]:
            yield box.pop()  # the frame keeps no reference to it
        yield from it
        return
    inflater = zlib.decompressobj(wbits=31)
    fed = False  # the current member has been given bytes
    box = [head]
    del head
    for chunk in _prepend(box.pop(), it):
        data = chunk
        while data:
            # bounded output: a highly compressed line never inflates in one piece
            out = inflater.decompress(data, _INFLATE_BYTES)
            fed = True
            if out:
                yield out
            if not inflater.eof:
                data = inflater.unconsumed_tail
                continue
            data = inflater.unused_data  # the next member, if any
            inflater = zlib.decompressobj(wbits=31)
            fed = False
            if not data.strip(b"\0"):  # padding after the last member
                break
    if fed and not inflater.eof:
        raise EOFError("Compressed file ended before the end-of-stream marker was reached")


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    # a paused generator holds its locals: yield the chunk without keeping it
    box = [first]
    del first
    yield box.pop()
    yield from rest


def iter_record_blocks(
    chunks: Iterable[bytes],
    *,
    block_bytes: int = 32 << 20,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> Iterator[LineBlock]:
    """Blocks of records from the raw bytes of one file or object (see the module doc).

    If the input cannot be read to its end, the records read before the problem are
    yielded and then the error is raised.
    """
    stream = gunzip_stream(chunks)
    head: list[bytes] = []  # the chunks read to decide the layout, kept apart (memory)
    failure: BaseException | None = None
    whole = False  # read whole as a document
    try:
        size = 0
        first = b""  # the first line, from its first non-blank byte, up to the peek
        for chunk in stream:
            head.append(chunk)
            size += len(chunk)
            first = (first + chunk).lstrip() if not first else first + chunk
            cut = first.find(b"\n")
            if cut >= 0 or size >= _PEEK_BYTES:
                first = first[: cut + 1] if cut >= 0 else first[:_PEEK_BYTES]
                break
        whole = first[:1] in (b"[", b"{") and _is_document(first)
        first = b""  # not held while the file is read
        if whole:
            head.extend(stream)
            stream = iter(())
    except _READ_ERRORS as exc:
        failure, stream = exc, iter(())
    records = split_document(b"".join(head)) if whole else None
    if records is not None:
        yield from _blocks_of(records, block_bytes)
        if failure is not None:
            raise failure
        return
    reader = LineReader(block_bytes, max_line_bytes)
    try:
        while head:
            yield from map(_strip_prefixes, reader.feed(head.pop(0)))
        if failure is not None:
            raise failure
        for chunk in stream:
            yield from map(_strip_prefixes, reader.feed(chunk))
    except _READ_ERRORS:
        yield from map(_strip_prefixes, reader.finish())
        raise
    yield from map(_strip_prefixes, reader.finish())


_READ_ERRORS = (EOFError, zlib.error, OSError)


def _is_document(first: bytes) -> bool:
    """Whether input whose first line is ``first`` (from its first non-blank byte, with
    its line break if one was read) must be read whole: an array, a multi-line or
    one-line document holding a record list, or records concatenated without newlines."""
    if first[:1] == b"[":
        return True
    line = first.strip()
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":
            return True  # {...}{...}: concatenated records
        # an object cut by a line break: a pretty-printed document (or a bad line); a
        # first line longer than the peek is a long record, read as a line (bounded)
        cut = b"\n" in first
        return cut and exc.pos >= len(line.decode("utf-8", "replace")) - 1
    except (UnicodeDecodeError, RecursionError):
        return False
    return isinstance(value, dict) and _record_list(value) is not None


def _record_list(value: dict[str, Any]) -> str | None:
    """The key of ``value`` holding its records, when ``value`` is a container (a record
    with a ``data`` or ``events`` list of its own is not: the generic names count only in
    an object of at most three keys, and a non-empty list)."""
    for key in RECORD_LISTS:
        if key not in _CONTAINER_KEYS and len(value) > 3:
            continue
        items = value.get(key)
        generic = key not in _CONTAINER_KEYS
        if isinstance(items, list) and (items or not generic):
            if all(isinstance(i, dict) for i in items):
                return key
    return None


def split_document(data: bytes) -> list[bytes] | None:
    """The records of a JSON document or of concatenated JSON values; None when ``data``
    does not start with a whole JSON value (it is then read as lines)."""
    text = data.decode("utf-8", "surrogateescape")
    decoder = json.JSONDecoder()
    records: list[bytes] = []
    pos = _skip(text, 0)
    values = 0
    while pos < len(text):
        try:
            value, end = decoder.raw_decode(text, pos)
        except (json.JSONDecodeError, RecursionError):
            if values == 0:
                return None
            stop = text.find("\n", pos)  # keep the rest of the line as one bad record
            stop = len(text) if stop < 0 else stop
            records.append(_one_line(text[pos:stop]))
            pos = _skip(text, stop)
            continue
        values += 1
        records.extend(_records_of(text, pos, end, value))
        pos = _skip(text, end)
    return records


def _records_of(text: str, start: int, end: int, value: Any) -> list[bytes]:
    if isinstance(value, list):
        return _array_items(text, start)
    if isinstance(value, dict):
        key = _record_list(value)
        if key == "logEvents":  # CloudWatch Logs subscription: the record is the message
            return [
                _one_line(e["message"]) if isinstance(e.get("message"), str) else _dump(e)
                for e in value[key]
            ]
        if key is not None:
            found = re.compile(r'"' + re.escape(key) + r'"\s*:\s*(?=\[)').search(text, start, end)
            if found:
                items = _array_items(text, found.end())
                if [json.loads(i.decode("utf-8", "surrogateescape")) for i in items] == value[key]:
                    return items
            return [_dump(i) for i in value[key]]
    return [_one_line(text[start:end])]


def _array_items(text: str, start: int) -> list[bytes]:
    """The verbatim texts of the items of the array at ``text[start]``."""
    decoder = json.JSONDecoder()
    items = []
    pos = _skip(text, start + 1)
    while pos < len(text) and text[pos] != "]":
        _, end = decoder.raw_decode(text, pos)
        items.append(_one_line(text[pos:end]))
        pos = _skip(text, end)
        if pos < len(text) and text[pos] == ",":
            pos = _skip(text, pos + 1)
    return items


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _WS:
        pos += 1
    return pos


def _one_line(text: str) -> bytes:
    # a line break inside a JSON value can only be whitespace between tokens
    return (
        text.replace("\r\n", " ")
        .replace("\n", " ")
        .replace("\r", " ")
        .encode("utf-8", "surrogateescape")
    )


def _dump(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _blocks_of(records: list[bytes], block_bytes: int) -> Iterator[LineBlock]:
    lines: list[bytes] = []
    offsets: list[int] = []
    size = 0
    for number, record in enumerate(records):
        lines.append(record)
        offsets.append(number)
        size += len(record)
        if size >= block_bytes:
            yield LineBlock(lines, offsets)
            lines, offsets, size = [], [], 0
    if lines:
        yield LineBlock(lines, offsets)


def _strip_prefixes(block: LineBlock) -> LineBlock:
    """Drop CloudWatch Logs export prefixes (``2024-05-01T10:00:00.000Z {...}``)."""
    if not block.lines or not block.lines[0][:1].isdigit():
        return block
    lines = [_CLOUDWATCH_PREFIX.sub(b"", line, count=1) for line in block.lines]
    return LineBlock(lines, block.offsets, block.cut)
