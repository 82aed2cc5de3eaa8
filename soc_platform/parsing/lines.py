"""Input bytes -> blocks of lines, with bounded memory whatever the lines' length.

A line is what lies between two ``\\n`` (a ``\\r`` before it and other surrounding
whitespace are trimmed). Blank lines count for numbering only. A line longer than the
maximum is never held whole by :class:`LineReader`: it keeps the first bytes, and the
size and a BLAKE2b-128 digest of the whole (trimmed) line, so the parser can dead-letter
it as ``too_large`` and still say what it was.
"""

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from soc_platform.parsing.base import DEFAULT_MAX_LINE_BYTES, TOO_LARGE_KEEP_BYTES

#: Bytes ``bytes.strip()`` removes.
_WHITESPACE = b" \t\n\r\x0b\x0c"


def line_digest(data: bytes | bytearray | memoryview) -> str:
    """BLAKE2b-128 (hex) of a whole line, as given in a ``too_large`` dead letter."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


@dataclass(frozen=True)
class CutLine:
    """A line read only in part (it is longer than the maximum): its size and digest."""

    size: int  # bytes of the trimmed line
    digest: str  # line_digest of the trimmed line


@dataclass(frozen=True)
class LineBlock:
    """Non-blank lines of one input file and their 0-based line numbers.

    ``cut`` maps the index of a line held only in part (its first bytes) to the size and
    digest of the whole line.
    """

    lines: list[bytes]
    offsets: list[int]
    cut: dict[int, CutLine] = field(default_factory=dict)


def split_lines(data: bytes, first_offset: int = 0) -> LineBlock:
    """Split decoded file content into non-blank lines, keeping each line's number."""
    lines: list[bytes] = []
    offsets: list[int] = []
    for number, line in enumerate(data.split(b"\n"), start=first_offset):
        stripped = line.strip()
        if stripped:
            lines.append(stripped)
            offsets.append(number)
    return LineBlock(lines, offsets)


class _LongLine:
    """A line too long to hold: what it starts with, its trimmed size and digest."""

    def __init__(self, max_line_bytes: int) -> None:
        self.max = max_line_bytes
        self.keep = min(TOO_LARGE_KEEP_BYTES, max_line_bytes)
        self.started = False  # a non-blank byte was seen
        self.held = bytearray()  # the line so far while it fits; later its first bytes
        self.over = False  # the trimmed line is longer than the maximum
        self.fed = 0  # bytes since the first non-blank one
        self.size = 0  # ... up to the last non-blank one: the trimmed size so far
        self.hasher = hashlib.blake2b(digest_size=16)
        self.committed = self.hasher.copy()  # digest state at the last non-blank byte

    def add(self, data: bytes) -> None:
        if not self.started:
            data = data.lstrip(_WHITESPACE)
            if not data:
                return
            self.started = True
        body = len(data.rstrip(_WHITESPACE))
        if body:
            self.hasher.update(data[:body])
            self.size = self.fed + body
            self.committed = self.hasher.copy()
        self.hasher.update(data[body:])
        self.fed += len(data)
        if self.over:
            return
        self.held += data
        if self.size > self.max:
            self.over = True
            del self.held[self.keep :]
        elif len(self.held) > self.max + 1:
            # only trailing blanks past the maximum: if anything but blanks follows, the
            # line is too large anyway, so the blanks need not be kept
            del self.held[self.max + 1 :]

    def block(self, number: int) -> LineBlock:
        if not self.started:
            return LineBlock([], [])
        if self.over:
            digest = self.committed.hexdigest()
            return LineBlock([bytes(self.held)], [number], {0: CutLine(self.size, digest)})
        return LineBlock([bytes(self.held[: self.size])], [number])


class LineReader:
    """Turns a stream of byte chunks into :class:`LineBlock` s of about ``block_bytes``.

    Memory stays within about ``block_bytes + max_line_bytes`` plus one chunk: a line
    that grows past ``max_line_bytes`` is followed as a :class:`_LongLine` (its first
    bytes, size and digest) and given as a block of its own.
    """

    def __init__(
        self,
        block_bytes: int,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        first_offset: int = 0,
    ) -> None:
        self.block_bytes = block_bytes
        self.max_line_bytes = max_line_bytes
        self.next_line = first_offset  # number of the first line in ``pending``
        self.pending = bytearray()  # whole lines, then the start of the current line
        self.tail_start = 0  # where the current (unfinished) line starts in ``pending``
        self.long: _LongLine | None = None

    def feed(self, chunk: bytes) -> Iterator[LineBlock]:
        """Blocks completed by ``chunk``."""
        if self.long is not None:
            end = chunk.find(b"\n")
            if end < 0:
                self.long.add(chunk)
                return
            self.long.add(chunk[:end])
            yield from self._end_long_line()
            chunk = chunk[end + 1 :]
        start = len(self.pending)
        self.pending += chunk
        last = self.pending.rfind(b"\n", start)
        if last >= 0:
            self.tail_start = last + 1
        if self.tail_start >= self.block_bytes:
            yield from self._flush_whole_lines()
        if len(self.pending) - self.tail_start > self.max_line_bytes:
            yield from self._flush_whole_lines()
            self.long = _LongLine(self.max_line_bytes)
            self.long.add(bytes(self.pending))
            self.pending = bytearray()
            self.tail_start = 0

    def finish(self) -> Iterator[LineBlock]:
        """The rest: the last line needs no ``\\n`` (a file cut short yields it too)."""
        if self.long is not None:
            yield from self._end_long_line()
        if self.pending:
            data = bytes(self.pending)
            self.pending = bytearray()
            self.tail_start = 0
            yield split_lines(data, self.next_line)
            self.next_line += data.count(b"\n") + 1

    def _flush_whole_lines(self) -> Iterator[LineBlock]:
        if self.tail_start == 0:
            return
        body = bytes(self.pending[: self.tail_start - 1])
        del self.pending[: self.tail_start]
        self.tail_start = 0
        yield split_lines(body, self.next_line)
        self.next_line += body.count(b"\n") + 1

    def _end_long_line(self) -> Iterator[LineBlock]:
        assert self.long is not None
        block = self.long.block(self.next_line)
        self.long = None
        self.next_line += 1
        if block.lines:
            yield block
