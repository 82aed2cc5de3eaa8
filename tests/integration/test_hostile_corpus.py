"""A corpus of hostile landing files through the real ingest step (lake) and hot load.

Each file mixes hostile lines with good ones. For every file: every line in is an event
or a dead letter out, each dead letter has the specific reason expected, the lake holds
them (events table and dead_letter table), and the good lines still become events. The
corpus is written at test time (one line is 5 MB); ``CORPUS`` is the readable source.
"""

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pyarrow.compute as pc
import pytest

from soc_platform.flow import steps
from soc_platform.hot.store import Dialect, HotStore
from soc_platform.lake.iceberg import DEAD_LETTER, Lake
from soc_platform.parsing.lines import line_digest

NOW = datetime.now(UTC).replace(microsecond=0)
T = NOW - timedelta(hours=1)


def stamp(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def event(i: int, **overrides: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "timestamp": stamp(T + timedelta(seconds=i)),
        "client_ip": "198.51.100.7",
        "host": "shop.example.com",
        "request_method": "GET",
        "request_uri": f"/item?id={i}",
        "status_code": 200,
        "user_agent": "Mozilla/5.0",
        "rule_id": 0,
        "rule_msg": "",
        "rule_tags": [],
    }
    rec.update(overrides)
    return rec


def good(i: int, **overrides: Any) -> bytes:
    return json.dumps(event(i, **overrides), separators=(",", ":")).encode()


def with_field(i: int, name: str, json_text: str) -> bytes:
    """A good line whose ``name`` is given as raw JSON text."""
    rec = event(i)
    rec[name] = "@@"
    return json.dumps(rec).encode().replace(b'"@@"', json_text.encode())


BOM = b"\xef\xbb\xbf"
HUGE_URI = "/search?q=" + "A" * (5 << 20)

#: file name -> [(line, expected outcome: "event", "duplicate" or a dead-letter reason)]
CORPUS: dict[str, list[tuple[bytes, str]]] = {
    "crash_lines.jsonl": [
        (good(1), "event"),
        (with_field(2, "x_meta", "[" * 10_000 + "]" * 10_000), "too_deep"),  # RecursionError
        (good(3, timestamp="9999-12-31T23:59:59Z"), "out_of_range"),  # OverflowError
        (good(4), "event"),
    ],
    "bom.jsonl": [
        (BOM + good(10), "event"),  # a file's byte-order mark
        (good(11), "event"),
        (BOM + good(12), "event"),  # a concatenated file's mark, mid-file
    ],
    "nul.jsonl": [
        (good(20, request_uri="/file.php\x00.jpg", user_agent="a\x00b"), "event"),
        (good(21), "event"),
    ],
    "too_large.jsonl": [
        (good(30), "event"),
        (good(31, request_uri=HUGE_URI), "too_large"),
        (good(32), "event"),
    ],
    "crlf.jsonl": [  # written with \r\n line ends
        (good(40), "event"),
        (b'{"timestamp": "broken', "invalid_json"),
        (good(41), "event"),
    ],
    "refusals.jsonl": [
        (good(50)[:-1] + b',"status_code":404}', "duplicate_field"),
        (with_field(51, "user_agent", '"\\ud800"'), "invalid_json"),  # lone surrogate
        (with_field(52, "x_meta", "1e999"), "out_of_range"),  # beyond a double
        (with_field(53, "status_code", "9223372036854775808"), "out_of_range"),  # > int64
        (with_field(54, "status_code", "9" * 5000), "out_of_range"),  # ValueError before
        (good(55, timestamp=stamp(NOW + timedelta(days=2))), "out_of_range"),  # WAF clock
        (good(56, timestamp="1969-12-31T23:59:59Z"), "out_of_range"),
        (with_field(57, "x_meta", "NaN"), "event"),  # Arrow and Python both take NaN
        (good(58), "event"),
    ],
    "reserialised.jsonl": [  # crash_lines.jsonl's events as a log shipper re-sends them
        (
            json.dumps(
                {**dict(reversed(event(1).items())), "@metadata": {"beat": "filebeat"}},
                indent=None,
            ).encode(),
            "duplicate",
        ),
        (
            json.dumps(event(4, timestamp=(T + timedelta(seconds=4)).isoformat())).encode(),
            "duplicate",
        ),  # +00:00 rather than Z, other spacing
        (json.dumps(event(4, host="other.example.com")).encode(), "event"),  # not the same
    ],
    "streamed.jsonl.gz": [  # gzip: the 5 MB line is read in pieces, never whole
        (good(60), "event"),
        (good(61, request_uri=HUGE_URI), "too_large"),
        (b"   " + BOM + good(62), "event"),
    ],
}


def write_corpus(root: Path) -> dict[str, Path]:
    paths = {}
    for name, lines in CORPUS.items():
        end = b"\r\n" if name.startswith("crlf") else b"\n"
        data = b"".join(line + end for line, _ in lines)
        path = root / name
        path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
        paths[name] = path
    return paths


@pytest.fixture
def hot(pg_dsn: str) -> HotStore:
    store = HotStore(pg_dsn)
    assert store.setup() is Dialect.PLAIN
    return store


def test_hostile_corpus_through_ingest_and_hot_load(
    lake: Lake, hot: HotStore, pg_dsn: str, work_dir: Path
) -> None:
    paths = write_corpus(work_dir)
    # crash_lines.jsonl first: reserialised.jsonl re-sends two of its events
    order = sorted(paths, key=lambda n: n != "crash_lines.jsonl")
    report = steps.ingest_files(lake, [str(paths[n]) for n in order])

    expected = [outcome for lines in CORPUS.values() for _, outcome in lines]
    reasons = [o for o in expected if o not in ("event", "duplicate")]
    assert report.files_failed == {}
    assert report.lines_read == len(expected)
    assert report.parsed + report.dead_letters == report.lines_read
    assert report.dead_letters == len(reasons)
    assert report.appended == expected.count("event")
    assert report.duplicates == expected.count("duplicate")
    assert report.dead_letter_reasons == {r: reasons.count(r) for r in sorted(set(reasons))}
    assert report.events_altered == {"nul_replaced": 1}

    days = sorted({T.date(), (T + timedelta(seconds=120)).date()})
    stored = lake.read_events(days[0], days[-1])
    dead = lake.table(DEAD_LETTER).scan().to_arrow()
    for name, lines in CORPUS.items():
        path = str(paths[name])
        mine = stored.filter(pc.equal(stored["source_file"], path))
        got = dict(zip(mine["source_offset"].to_pylist(), ["event"] * mine.num_rows, strict=True))
        letters = dead.filter(pc.equal(dead["source_file"], path))
        got.update(
            zip(letters["source_offset"].to_pylist(), letters["reason"].to_pylist(), strict=True)
        )
        want = {i: o for i, (_, o) in enumerate(lines) if o != "duplicate"}
        assert got == want, name
        assert mine.num_rows + letters.num_rows + [o for _, o in lines].count("duplicate") == len(
            lines
        ), name

    # a too-large line keeps its start, its size and a digest; never the 5 MB
    big = dead.filter(pc.equal(dead["reason"], "too_large")).to_pylist()
    assert len(big) == 2
    for row in big:
        line = good(
            31 if row["source_file"].endswith("too_large.jsonl") else 61, request_uri=HUGE_URI
        )
        assert row["raw"] == line[:4096].decode()
        assert f"line of {len(line):,} bytes" in row["detail"]
        assert line_digest(line) in row["detail"]

    # BOM lines keep their bytes verbatim in raw, and are the same events as without it
    bom = stored.filter(pc.equal(stored["source_file"], str(paths["bom.jsonl"])))
    assert bom["raw"].to_pylist()[0] == (BOM + good(10)).decode()

    # the hot store and the lake hold the same parsed values, NUL event included
    load = steps.load_hot(hot, report.events)
    assert load.inserted == expected.count("event")
    with psycopg.connect(pg_dsn) as conn:
        hot_rows = dict(
            conn.execute(
                "SELECT event_id, request_uri || '|' || user_agent FROM waf_events"
            ).fetchall()
        )
    lake_rows = {
        r["event_id"]: f"{r['request_uri']}|{r['user_agent']}"
        for r in stored.select(["event_id", "request_uri", "user_agent"]).to_pylist()
    }
    assert hot_rows == lake_rows
    assert "/file.php\ufffd.jpg|a\ufffdb" in hot_rows.values()
    nul_raw = stored.filter(pc.equal(stored["source_file"], str(paths["nul.jsonl"])))["raw"]
    assert "\\u0000" in nul_raw[0].as_py()  # the lake's raw line is verbatim

    # the same files again: nothing new, nothing fails
    again = steps.ingest_files(lake, [str(paths[n]) for n in order])
    assert (again.appended, again.dead_letters_new) == (0, 0)
    assert again.dead_letter_reasons == report.dead_letter_reasons
