"""Byte streams (S3 object bodies, read as ``S3Area.blocks`` reads them) -> blocks of records:
gzip by magic bytes, not by name; any read size."""

import gzip
import io
import zlib
from collections.abc import Iterator
from functools import partial

import pytest

from soc_platform.parsing import LineBlock
from soc_platform.parsing.records import iter_record_blocks
from soc_platform.sources.s3 import READ_BYTES

LINES = [b'{"a":1}', b'{"a":2}', b"", b'{"a":3}']


class Trickle(io.RawIOBase):
    """A body that returns at most ``n`` bytes per read, like a network stream."""

    def __init__(self, data: bytes, n: int = 1) -> None:
        self.data, self.n = data, n

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1, /) -> bytes:
        take = self.n if size < 0 else min(size, self.n)
        out, self.data = self.data[:take], self.data[take:]
        return out


def iter_stream_blocks(body: io.RawIOBase | io.BytesIO) -> Iterator[LineBlock]:
    """An object body's blocks, read as the S3 source reads one."""
    return iter_record_blocks(iter(partial(body.read, READ_BYTES), b""))


def _lines(body: io.RawIOBase | io.BytesIO) -> list[tuple[int, bytes]]:
    blocks = iter_stream_blocks(body)
    return [(o, line) for b in blocks for o, line in zip(b.offsets, b.lines, strict=True)]


EXPECTED = [(0, b'{"a":1}'), (1, b'{"a":2}'), (3, b'{"a":3}')]


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("chunk", [1, 3, 1 << 20])
def test_content_is_read_whatever_the_compression_and_read_size(compress: bool, chunk: int) -> None:
    data = b"\n".join(LINES) + b"\n"
    if compress:
        data = gzip.compress(data)
    assert _lines(Trickle(data, chunk)) == EXPECTED


def test_concatenated_gzip_members_are_all_read() -> None:
    data = gzip.compress(b'{"a":1}\n{"a":2}\n') + gzip.compress(b'\n{"a":3}\n')
    assert _lines(io.BytesIO(data)) == EXPECTED


def test_truncated_gzip_yields_what_was_read_then_raises() -> None:
    data = gzip.compress(b"".join(b'{"n":%d}\n' % i for i in range(5000)))
    got: list[bytes] = []
    with pytest.raises((EOFError, zlib.error)):
        for block in iter_stream_blocks(io.BytesIO(data[: len(data) // 2])):
            got.extend(block.lines)
    assert got and got[0] == b'{"n":0}'


@pytest.mark.parametrize("data", [b"", b"\x1f", b"{"])
def test_tiny_bodies(data: bytes) -> None:
    assert _lines(io.BytesIO(data)) == (
        [(0, b"{")] if data == b"{" else ([(0, b"\x1f")] if data else [])
    )
