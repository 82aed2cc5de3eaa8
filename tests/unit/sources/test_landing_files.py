"""Landing files: listing and block reading (local temp files only, no servers)."""

import gzip
from pathlib import Path

import pytest

from soc_platform.sources import landing
from soc_platform.sources.landing import iter_blocks, list_landing_files


def test_only_complete_landing_files_are_listed(tmp_path: Path) -> None:
    names = ["a.jsonl", "b.jsonl.gz", "c.ndjson", ".hidden.jsonl", "d.jsonl.tmp", "e.json"]
    names += ["h.log.gz", "waf-stream-1-2026-12-01-10-00-00-abcd", "i.csv", "j.json.part"]
    names += ["_SUCCESS", "_truth-s7.json"]
    for name in names:
        (tmp_path / name).write_text("{}\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "f.jsonl").write_text("{}\n")
    (tmp_path / ".staging").mkdir()
    (tmp_path / ".staging" / "g.jsonl").write_text("{}\n")
    names = [Path(f.path).relative_to(tmp_path).as_posix() for f in list_landing_files(tmp_path)]
    # .json/.log and extension-less Firehose objects too (issue 11); never temporary names
    assert names == [
        "a.jsonl",
        "b.jsonl.gz",
        "c.ndjson",
        "e.json",
        "h.log.gz",
        "sub/f.jsonl",
        "waf-stream-1-2026-12-01-10-00-00-abcd",
    ]
    assert list_landing_files(tmp_path / "missing") == []


def test_file_key_changes_when_the_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text("{}\n")
    (before,) = list_landing_files(tmp_path)
    path.write_text("{}\n{}\n")
    (after,) = list_landing_files(tmp_path)
    assert before.key != after.key and before.path == after.path


@pytest.mark.parametrize("read_bytes", [1, 7, 64, 1 << 20])
@pytest.mark.parametrize("gz", [False, True])
def test_blocks_keep_every_line_and_its_number(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, read_bytes: int, gz: bool
) -> None:
    monkeypatch.setattr(landing, "READ_BYTES", read_bytes)
    body = b"".join(b"line%d\r\n" % i for i in range(500)) + b"\n  \nlast"
    path = tmp_path / ("x.jsonl.gz" if gz else "x.jsonl")
    path.write_bytes(gzip.compress(body) if gz else body)
    blocks = list(iter_blocks(path, block_bytes=64))
    pairs = [(o, line) for b in blocks for o, line in zip(b.offsets, b.lines, strict=True)]
    assert pairs == [(i, b"line%d" % i) for i in range(500)] + [(502, b"last")]


def test_truncated_gzip_yields_what_was_readable_then_raises(tmp_path: Path) -> None:
    body = b"".join(b'{"n":%d}\n' % i for i in range(50_000))
    data = gzip.compress(body)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    seen = []
    with pytest.raises(EOFError):
        for block in iter_blocks(path):
            seen.extend(block.offsets)
    assert seen and seen == list(range(len(seen)))


@pytest.mark.parametrize("gz", [False, True])
def test_a_line_over_the_limit_is_never_held_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gz: bool
) -> None:
    """An 8 MiB line (no line break at all in the file's middle) is read in pieces: the
    block gets its first bytes, size and digest; memory stays near the read size."""
    import tracemalloc

    from soc_platform.parsing.lines import line_digest

    monkeypatch.setattr(landing, "READ_BYTES", 64 << 10)
    huge = b'{"request_uri":"' + b"A" * (8 << 20) + b'"}'
    body = b'{"n":1}\n' + huge + b"  \r\n" + b'{"n":2}\n'
    path = tmp_path / ("big.jsonl.gz" if gz else "big.jsonl")
    path.write_bytes(gzip.compress(body) if gz else body)
    del body
    tracemalloc.start()
    try:
        blocks = list(iter_blocks(path, block_bytes=1 << 20, max_line_bytes=1 << 20))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, f"peak {peak:,} bytes while reading an 8 MiB line"
    lines = [(o, line) for b in blocks for o, line in zip(b.offsets, b.lines, strict=True)]
    assert [o for o, _ in lines] == [0, 1, 2]
    assert lines[0][1] == b'{"n":1}' and lines[2][1] == b'{"n":2}'
    (cut_block,) = [b for b in blocks if b.cut]
    assert cut_block.lines == [huge[:4096]]
    assert cut_block.cut[0].size == len(huge)
    assert cut_block.cut[0].digest == line_digest(huge)


def test_a_long_line_within_the_limit_after_trimming_is_kept(tmp_path: Path) -> None:
    """The limit counts the trimmed line, blanks around it do not: the same verdict as
    when the file is split in memory."""
    line = b'{"a":"' + b"x" * 990 + b'"}'
    path = tmp_path / "pad.jsonl"
    path.write_bytes(b"\t" * 600 + line + b" " * 3000 + b"\n")
    blocks = [b for b in iter_blocks(path, block_bytes=64, max_line_bytes=1024) if b.lines]
    assert [(b.lines, b.offsets, b.cut) for b in blocks] == [([line], [0], {})]


def test_moving_files_keeps_their_relative_path_and_never_overwrites(tmp_path: Path) -> None:
    from soc_platform.sources.landing import move_file

    root, dest = tmp_path / "landing", tmp_path / "quarantine"
    (root / "host-a").mkdir(parents=True)
    first = root / "host-a" / "x.jsonl.gz"
    first.write_bytes(b"one")
    assert move_file(first, root, dest) == dest / "host-a" / "x.jsonl.gz"
    first.write_bytes(b"two")  # the same name again: a suffix, the first one kept
    second = move_file(first, root, dest)
    assert second == dest / "host-a" / "x~1.jsonl.gz" and second.read_bytes() == b"two"
    assert (dest / "host-a" / "x.jsonl.gz").read_bytes() == b"one"
    assert list_landing_files(root) == []


def test_retiring_deletes_or_archives_and_the_archive_is_pruned(tmp_path: Path) -> None:
    from datetime import date

    from soc_platform.sources.landing import current_version, prune_archive, retire_file

    root, archive = tmp_path / "landing", tmp_path / "archive"
    root.mkdir()
    a, b = root / "a.jsonl", root / "b.jsonl"
    a.write_text("{}\n")
    b.write_text("{}\n")
    assert current_version(a) == list_landing_files(root)[0].version
    assert retire_file(a, root, "delete", archive, date(2026, 3, 1)) is None and not a.exists()
    assert current_version(a) is None
    kept = retire_file(b, root, "archive", archive, date(2026, 3, 1))
    assert kept == archive / "2026-03-01" / "b.jsonl" and kept.read_text() == "{}\n"
    (archive / "2026-03-08").mkdir()
    (archive / "notes").mkdir()  # not a day folder: never touched
    assert prune_archive(archive, 7, date(2026, 3, 8)) == []  # 7 days are kept
    assert prune_archive(archive, 7, date(2026, 3, 9)) == ["2026-03-01"]
    assert sorted(p.name for p in archive.iterdir()) == ["2026-03-08", "notes"]
    assert prune_archive(archive, 0, date(2030, 1, 1)) == []  # 0: kept for ever


def test_a_long_first_line_is_still_read_in_bounded_memory(tmp_path: Path) -> None:
    """A file whose first line is longer than the layout peek (1 MiB) is JSON lines, not
    a document to read whole."""
    import tracemalloc

    huge = b'{"request_uri":"' + b"A" * (32 << 20) + b'", "x": 1}'
    path = tmp_path / "big.log"
    path.write_bytes(huge + b"\n" + b'{"n":2}\n')
    tracemalloc.start()
    try:
        blocks = list(iter_blocks(path, block_bytes=1 << 20, max_line_bytes=1 << 20))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 12 << 20, f"peak {peak:,} bytes while reading a 32 MiB first line"
    lines = [line for b in blocks for line in b.lines]
    assert len(lines) == 2 and lines[1] == b'{"n":2}'
