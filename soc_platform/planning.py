"""Pure decisions for the micro-batch sensor: which landing files go into the next run.

The cursor is JSON ``{"done": [file keys launched]}``. A file key holds path, size and
modification time, so a file is launched once, and again only if it is replaced. Keys of
files that left the landing directory are dropped, which keeps the cursor bounded by the
directory's content.
"""

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from soc_platform.models import LandingFile


@dataclass(frozen=True)
class PlannedRun:
    run_key: str
    files: list[str]


@dataclass(frozen=True)
class Plan:
    run: PlannedRun | None
    cursor: str
    skip_reason: str | None
    pending_after: int


def parse_cursor(cursor: str | None) -> set[str]:
    if not cursor:
        return set()
    try:
        data = json.loads(cursor)
    except json.JSONDecodeError:
        return set()
    done = data.get("done") if isinstance(data, dict) else None
    if not isinstance(done, list):
        return set()
    return {k for k in done if isinstance(k, str)}


MAX_FILES_PER_RUN = 500
MAX_BYTES_PER_RUN = 512 << 20  # of files on disk; a run holds its batch in memory


def batch_files(
    files: Sequence[LandingFile],
    max_files: int = MAX_FILES_PER_RUN,
    max_bytes: int = MAX_BYTES_PER_RUN,
) -> list[LandingFile]:
    """The first files that fit one run: at most ``max_files`` and ``max_bytes`` (but at
    least one file, however large)."""
    batch: list[LandingFile] = []
    size = 0
    for f in files[:max_files]:
        if batch and size + f.size > max_bytes:
            break
        batch.append(f)
        size += f.size
    return batch


def plan_runs(
    cursor: str | None,
    observed: Sequence[LandingFile],
    max_files: int = MAX_FILES_PER_RUN,
    max_bytes: int = MAX_BYTES_PER_RUN,
) -> Plan:
    """Decide the next micro-batch run from the cursor and the files now in landing."""
    done = parse_cursor(cursor)
    present = {f.key for f in observed}
    done &= present  # forget files that are gone
    new = sorted((f for f in observed if f.key not in done), key=lambda f: (f.mtime_ns, f.path))
    if not new:
        reason = (
            f"no new landing files ({len(observed)} already processed)"
            if observed
            else "landing directory is empty"
        )
        return Plan(None, _dump(done), reason, 0)
    batch = batch_files(new, max_files, max_bytes)
    keys = [f.key for f in batch]
    run_key = "microbatch-" + hashlib.blake2b("\n".join(keys).encode(), digest_size=12).hexdigest()
    return Plan(
        PlannedRun(run_key, [f.path for f in batch]),
        _dump(done | set(keys)),
        None,
        len(new) - len(batch),
    )


def _dump(done: set[str]) -> str:
    return json.dumps({"done": sorted(done)}, separators=(",", ":"))
