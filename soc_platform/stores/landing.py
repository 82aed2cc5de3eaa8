"""The landing directory: ``.jsonl`` / ``.jsonl.gz`` files dropped by shippers.

Writers should create files under a temporary name (a leading dot, or ``.tmp``/``.part``
suffix) and rename them when complete; such names are ignored until then.
"""

import gzip
import io
import zlib
from collections.abc import Iterator
from pathlib import Path

from soc_platform.errors import ConfigurationError
from soc_platform.models import LandingFile
from soc_platform.parsing import DEFAULT_MAX_LINE_BYTES, LineBlock, LineReader

SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")
BLOCK_BYTES = 32 << 20
READ_BYTES = 1 << 20


def list_landing_files(root: Path) -> list[LandingFile]:
    """Complete landing files under ``root`` (recursively), sorted by path."""
    if not root.exists():
        return []
    if not root.is_dir():
        raise ConfigurationError(f"landing directory {root} is not a directory (SOC_LANDING_DIR)")
    found = []
    for path in root.rglob("*"):
        name = path.name
        if name.startswith(".") or not name.endswith(SUFFIXES) or not path.is_file():
            continue
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        st = path.stat()
        found.append(LandingFile(str(path.resolve()), st.st_size, st.st_mtime_ns))
    return sorted(found)


def _open(path: Path) -> io.BufferedIOBase:
    if path.name.endswith(".gz"):
        return gzip.GzipFile(path, "rb")
    return path.open("rb")


def iter_blocks(
    path: Path, block_bytes: int = BLOCK_BYTES, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
) -> Iterator[LineBlock]:
    """Read a (possibly gzipped) file in blocks of whole lines, keeping line numbers.

    A line longer than ``max_line_bytes`` is never held whole (its first bytes, size and
    digest are kept; the parser dead-letters it), so memory stays bounded whatever the
    file holds. If the file cannot be read to its end (a truncated or corrupt gzip),
    everything read before the problem is still yielded, the cut-off last line included
    (it will be a dead letter), and then the error is raised.
    """
    reader = LineReader(block_bytes, max_line_bytes)
    with _open(path) as fh:
        while True:
            try:
                chunk = fh.read1(READ_BYTES)  # what is decoded so far, even before a bad end
            except (EOFError, zlib.error, OSError):
                yield from reader.finish()
                raise
            if not chunk:
                break
            yield from reader.feed(chunk)
    yield from reader.finish()
