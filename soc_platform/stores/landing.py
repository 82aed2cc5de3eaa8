"""The landing directory: ``.jsonl`` / ``.jsonl.gz`` files dropped by shippers.

Writers should create files under a temporary name (a leading dot, or ``.tmp``/``.part``
suffix) and rename them when complete; such names are ignored until then.
"""

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from soc_platform.errors import ConfigurationError
from soc_platform.parsing import LineBlock, split_lines

SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")
BLOCK_BYTES = 32 << 20


@dataclass(frozen=True, order=True)
class LandingFile:
    """A landing file as observed: the key changes when the file is replaced or grows."""

    path: str
    size: int
    mtime_ns: int

    @property
    def key(self) -> str:
        return f"{self.path}|{self.size}|{self.mtime_ns}"


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


def _open(path: Path) -> BinaryIO:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def iter_blocks(path: Path, block_bytes: int = BLOCK_BYTES) -> Iterator[LineBlock]:
    """Read a (possibly gzipped) file in blocks of whole lines, keeping line numbers."""
    next_line = 0
    carry = b""
    with _open(path) as fh:
        while True:
            chunk = fh.read(block_bytes)
            if not chunk:
                break
            data = carry + chunk
            cut = data.rfind(b"\n")
            if cut < 0:
                carry = data
                continue
            body, carry = data[: cut + 1], data[cut + 1 :]
            block = split_lines(body[:-1], next_line)
            next_line += body.count(b"\n")
            yield block
    if carry:
        yield split_lines(carry, next_line)
