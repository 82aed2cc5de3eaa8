"""A byte stream (an S3 object body) -> blocks of whole lines; gzip is recognised by its
magic bytes, not by a name (Firehose objects have no extension, WAF's end in .log.gz)."""

import gzip
import io
import zlib
from collections.abc import Iterator
from typing import Protocol

from soc_platform.parsing import DEFAULT_MAX_LINE_BYTES, LineBlock, LineReader

GZIP_MAGIC = b"\x1f\x8b"
READ_BYTES = 1 << 20
BLOCK_BYTES = 32 << 20


class Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


class _Prefixed(io.RawIOBase):
    """``head`` then the rest of ``body``: the bytes read to sniff the format are not lost."""

    def __init__(self, head: bytes, body: Readable) -> None:
        self._head = head
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: "memoryview | bytearray") -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        if self._head:
            n = min(len(view), len(self._head))
            view[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._body.read(len(view))
        view[: len(data)] = data
        return len(data)


def open_stream(body: Readable) -> io.BufferedIOBase:
    """A reader of ``body``'s content, decompressed when it starts with the gzip magic."""
    head = body.read(2)
    while len(head) < 2:
        more = body.read(2 - len(head))
        if not more:
            break
        head += more
    raw = io.BufferedReader(_Prefixed(head, body), READ_BYTES)
    if head == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw, mode="rb")
    return raw


def iter_stream_blocks(
    body: Readable,
    block_bytes: int = BLOCK_BYTES,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> Iterator[LineBlock]:
    """Read a (possibly gzipped) stream in blocks of whole lines with bounded memory, as
    ``sources.landing.iter_blocks`` reads a file: when the content cannot be read to its
    end (a truncated gzip), what was read is yielded, the cut-off line included, and the
    error is raised."""

    reader = LineReader(block_bytes, max_line_bytes)
    with open_stream(body) as fh:
        while True:
            try:
                chunk = fh.read1(READ_BYTES)
            except (EOFError, zlib.error, gzip.BadGzipFile):
                yield from reader.finish()
                raise
            if not chunk:
                break
            yield from reader.feed(chunk)
    yield from reader.finish()
