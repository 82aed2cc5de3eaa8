"""The landing directory: files dropped by shippers and WAFs (``.json``, ``.jsonl``,
``.ndjson``, ``.log``, extension-less Firehose objects; each may be gzip-compressed,
which is recognised by its magic bytes). How records lie in a file is
:mod:`soc_platform.parsing.records`' business.

Writers should create files under a temporary name (a leading dot, or ``.tmp``/``.part``
suffix) and rename them when complete; such names are ignored until then.

Files leave the landing directory once processed (deleted, or moved to the archive) or
when quarantined (moved to the quarantine folder), keeping their path relative to it.
"""

import errno
import os
import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from functools import partial
from pathlib import Path

from soc_platform.errors import ConfigurationError
from soc_platform.models import LandingFile
from soc_platform.parsing import DEFAULT_MAX_LINE_BYTES, LineBlock
from soc_platform.parsing.records import iter_record_blocks

SUFFIXES = tuple(ext + gz for ext in (".json", ".jsonl", ".ndjson", ".log") for gz in ("", ".gz"))


def is_landing_name(name: str) -> bool:
    """A name the landing directory reads: a known suffix, or none at all (Firehose).
    A leading ``.`` (being written) or ``_`` (markers and side files such as Spark's
    ``_SUCCESS`` or ``generate``'s ``_truth-*.json``) is not data, as in Hadoop."""
    return not name.startswith((".", "_")) and (name.endswith(SUFFIXES) or "." not in name)


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
        if not is_landing_name(name) or not path.is_file():
            continue
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        st = path.stat()
        found.append(LandingFile(str(path.resolve()), st.st_size, st.st_mtime_ns))
    return sorted(found)


def current_version(path: Path) -> str | None:
    """The version (size:mtime_ns) of the file at ``path`` now; None if it is gone."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return LandingFile(str(path), st.st_size, st.st_mtime_ns).version


def _free_name(dest: Path) -> Path:
    """``dest``, or ``name~N.suffixes`` beside it when taken."""
    if not dest.exists():
        return dest
    stem, dot, suffixes = dest.name.partition(".")
    n = 1
    while True:
        candidate = dest.with_name(f"{stem}~{n}{dot}{suffixes}")
        if not candidate.exists():
            return candidate
        n += 1


def move_file(path: Path, root: Path, dest_root: Path) -> Path:
    """Move ``path`` (under ``root``) to ``dest_root`` keeping its relative path (a name
    already taken there gets a ``~N`` suffix); return where it went. Across file systems
    the file is copied, synced, then removed."""
    try:
        rel = path.relative_to(root)
    except ValueError:
        rel = Path(path.name)
    dest = _free_name(dest_root / rel)
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(path, dest)
    except OSError as exc:
        if exc.errno != errno.EXDEV:  # another file system
            raise
        shutil.copy2(path, dest)
        with dest.open("rb") as fh:
            os.fsync(fh.fileno())
        path.unlink()
    return dest


def retire_file(path: Path, root: Path, mode: str, archive_root: Path, today: date) -> Path | None:
    """Take a processed file out of landing: ``delete`` it, or ``archive`` it under
    ``archive_root/YYYY-MM-DD/``. Returns the archived path (None when deleted)."""
    if mode == "archive":
        return move_file(path, root, archive_root / today.isoformat())
    path.unlink(missing_ok=True)
    return None


def prune_archive(archive_root: Path, keep_days: int, today: date) -> list[str]:
    """Delete archive day folders older than ``keep_days`` (0: keep forever); return them."""
    if keep_days <= 0 or not archive_root.is_dir():
        return []
    oldest = today - timedelta(days=keep_days)
    pruned = []
    for folder in sorted(archive_root.iterdir()):
        try:
            day = date.fromisoformat(folder.name)
        except ValueError:
            continue  # not ours
        if folder.is_dir() and day < oldest:
            shutil.rmtree(folder)
            pruned.append(folder.name)
    return pruned


def iter_blocks(
    path: Path, block_bytes: int = BLOCK_BYTES, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
) -> Iterator[LineBlock]:
    """Read a (possibly gzipped) file in blocks of whole records, keeping line (or record)
    numbers.

    A line longer than ``max_line_bytes`` is never held whole (its first bytes, size and
    digest are kept; the parser dead-letters it), so memory stays bounded whatever the
    file holds. If the file cannot be read to its end (a truncated or corrupt gzip),
    everything read before the problem is still yielded, the cut-off last line included
    (it will be a dead letter), and then the error is raised.
    """
    with path.open("rb") as fh:
        chunks = iter(partial(fh.read, READ_BYTES), b"")
        yield from iter_record_blocks(
            chunks, block_bytes=block_bytes, max_line_bytes=max_line_bytes
        )
