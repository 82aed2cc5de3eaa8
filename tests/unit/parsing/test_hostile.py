"""Hostile input: no line can fail a batch, and every line is accounted for exactly once.

Property tests (hypothesis) over JSON lines built to break parsers: deep nesting, numbers
beyond int64 and double, NaN/Infinity, lone surrogates, escaped NUL, invalid UTF-8, BOMs,
CR/LF variants, duplicate keys, floats where integers are expected, long strings, objects
and numbers in list fields, timestamps at and beyond the datetime limits, odd IPs. For
every input: ``parse`` never raises, ``lines_read == events + dead letters``, each
non-blank line's offset is an event or a dead letter exactly once, with a specific
reason, the same whatever else its block holds and however the file is cut into reads;
and every event's time is one the stores and the window arithmetic downstream can take.
"""

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from soc_platform import days as utc_days
from soc_platform.correlation import windows
from soc_platform.hot import buckets
from soc_platform.models import DeadLetterReason
from soc_platform.parsing import LineReader, split_lines
from soc_platform.parsing.base import (
    EARLIEST_EVENT_TIME,
    LATEST_EVENT_TIME,
    MAX_NESTING_DEPTH,
    ParseResult,
    latest_event_time,
)
from soc_platform.parsing.jsonl import nesting_depth
from soc_platform.parsing.waf_json import parse

INGESTED = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
REASONS = {str(r) for r in DeadLetterReason}
FALLBACK = "Arrow's JSON reader refused it"  # the reason nobody has classified yet
TEXT_COLUMNS = ("host", "request_method", "request_uri", "user_agent", "rule_msg")

PROPS = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- building blocks ------------------------------------------------------------------------

NASTY_CHARS = st.sampled_from(
    ["\x00", "\x01", "\x1f", "\x7f", "\u2028", "\ufeff", "\uffff", "\U0010ffff", "é", "☃", '"',
     "\\", "/", "\n", "\r", "\t", "{", "[", "]", "}"]
)  # fmt: skip
TEXT = st.text(st.characters(codec="utf-8") | NASTY_CHARS, max_size=20)


@st.composite
def timestamp_text(draw: st.DrawFn) -> str:
    """RFC 3339-shaped text with values at and beyond every limit, or something else."""
    if draw(st.integers(0, 9)) == 0:
        return draw(
            st.sampled_from(
                ["", "0", "now", "2026-11-30", "1714557600", "2026-11-30T10:00:00",
                 "9999-12-31T23:59:59Z", "0000-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00",
                 "9999-12-31T23:59:59-05:00", "9999-12-31T23:59:59.999999999-23:59",
                 "1969-12-31T23:59:59.999999Z", "1970-01-01T00:00:00Z", "2262-04-12T00:00:00Z",
                 "2026-11-30T10:00:00.1234567890123Z", "2026-11-30T23:59:60Z",
                 "2026-11-30T10:00:00+24:00", "2026-11-30T10:00:00+99:99", "2026-02-30T00:00:00Z",
                 "2026-12-01T12:00:00Z", "2026-12-01T12:00:00.000001Z", "2026-12-01T11:59:59Z"]
            )
        )  # fmt: skip
    year = draw(st.sampled_from([0, 1, 1969, 1970, 2026, 2027, 2999, 9998, 9999]))
    month = draw(st.integers(1, 12) | st.sampled_from([0, 13]))
    day = draw(st.integers(1, 28) | st.sampled_from([0, 29, 30, 31, 32]))
    hour, minute, second = (
        draw(st.integers(0, 23) | st.sampled_from([24, 25])),
        draw(st.integers(0, 59) | st.sampled_from([60, 61])),
        draw(st.integers(0, 59) | st.sampled_from([60, 61])),
    )
    digits = draw(st.integers(0, 12))
    frac = (
        "."
        + "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=digits, max_size=digits)))
        if digits
        else ""
    )
    zone = draw(
        st.sampled_from(["Z", "z", "+00:00", "-00:00", "+14:00", "-23:59", "+23:59", "+05:30"])
    )
    sep = draw(st.sampled_from(["T", "t", " "]))
    clock = f"{hour:02d}:{minute:02d}:{second:02d}"
    return f"{year:04d}-{month:02d}-{day:02d}{sep}{clock}{frac}{zone}"


IP_TEXT = st.ip_addresses().map(str) | st.sampled_from(
    ["", " ", "1.2.3.4 ", "01.2.3.4", "1.2.3", "fe80::1%eth0", "::ffff:1.2.3.4", "::", "0.0.0.0",
     "2001:DB8::1", "1.2.3.4/32", "1.2.3.4\x00", "not-an-ip", ":" * 300]
)  # fmt: skip


def deep(depth: int, kind: str) -> str:
    if kind == "array":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


NUMBER_TEXT = st.sampled_from(
    ["0", "-0", "200", "200.0", "2e2", "-1", "1e999", "-1e999", "1e-999", "NaN", "Infinity",
     "-Infinity", "9223372036854775807", "9223372036854775808", "-9223372036854775809",
     "18446744073709551616", "9" * 400, "9" * 5000, "1" + "0" * 309, "0.1e310", "true", "null"]
)  # fmt: skip

SURROGATE_TEXT = st.sampled_from(
    ['"\\ud800"', '"\\udfff"', '"a\\ud83d"', '"\\ude00\\ud83d"', '"\\ud83d\\ude00"',
     '"\\uD800\\uD800"', '"x\\u0000y"', '"\\u0000"', '"\\\\ud800"']
)  # fmt: skip


def _value(draw: st.DrawFn, field: str) -> str:
    """A JSON text fragment for ``field``: usually right, often hostile."""
    kind = draw(st.integers(0, 9))
    if field == "timestamp" and kind < 7:
        return json.dumps(draw(timestamp_text()))
    if field == "client_ip" and kind < 7:
        return json.dumps(draw(IP_TEXT))
    if field in ("status_code", "rule_id") and kind < 5:
        return str(draw(st.integers(100, 599)))
    if field == "rule_tags" and kind < 5:
        tags = draw(st.lists(st.none() | TEXT, max_size=3))
        return json.dumps(tags, ensure_ascii=draw(st.booleans()))
    if kind < 4:
        return json.dumps(draw(TEXT), ensure_ascii=draw(st.booleans()))
    if kind == 4:
        return draw(NUMBER_TEXT)
    if kind == 5:
        return draw(SURROGATE_TEXT)
    if kind == 6:
        depth = draw(st.sampled_from([1, 2, MAX_NESTING_DEPTH, MAX_NESTING_DEPTH + 1, 3000]))
        return deep(depth, draw(st.sampled_from(["array", "object"])))
    if kind == 7:  # lists with objects, numbers, nulls
        items = st.sampled_from(['"a"', "1", "null", "{}", "[]", '{"x":"y"}', "1.5"])
        return "[" + ",".join(draw(st.lists(items, max_size=4))) + "]"
    if kind == 8:
        return json.dumps("x" * draw(st.sampled_from([100, 1500, 5000])))
    return json.dumps(draw(ANY_JSON), ensure_ascii=draw(st.booleans()))


ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)


FIELDS = ["timestamp", "client_ip", "host", "request_method", "request_uri", "status_code",
          "user_agent", "rule_id", "rule_msg", "rule_tags", "action"]  # fmt: skip
GOOD = {
    "timestamp": '"2026-11-30T10:00:00Z"',
    "client_ip": '"192.0.2.10"',
    "host": '"shop.example.com"',
    "request_method": '"GET"',
    "request_uri": '"/"',
    "status_code": "200",
}


@st.composite
def hostile_line(draw: st.DrawFn) -> bytes:
    """One input line (without its line break)."""
    shape = draw(st.integers(0, 19))
    if shape == 0:
        return draw(st.binary(max_size=60))
    if shape == 1:
        return draw(TEXT).encode()
    pairs: list[tuple[str, str]] = []
    if draw(st.booleans()):  # a good line with one or two fields made hostile
        hostile = set(draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=2)))
        pairs = [(k, _value(draw, k) if k in hostile else v) for k, v in GOOD.items()]
        pairs += [(k, _value(draw, k)) for k in sorted(hostile - set(GOOD))]
    else:
        for name in FIELDS:
            roll = draw(st.integers(0, 9))
            if roll < 5 and name in GOOD:
                pairs.append((name, GOOD[name]))
            elif roll < 8:
                pairs.append((name, _value(draw, name)))
    for _ in range(draw(st.integers(0, 2))):  # shipper metadata, duplicates
        name = draw(st.sampled_from([*FIELDS, "@metadata", "x", "", "\\u0000"]))
        pairs.append((name, _value(draw, name)))
    pairs = draw(st.permutations(pairs))
    comma, colon = draw(st.sampled_from([(",", ":"), (", ", ": "), (" ,", " : ")]))
    body = comma.join(f"{json.dumps(k)}{colon}{v}" for k, v in pairs)
    text = "{" + body + "}"
    if shape == 2:
        text = "[" + text + "]"
    if shape == 3:
        text = text + draw(st.sampled_from(["{}", " {}", "x", "\r{}", ","]))
    data = text.encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 9)) == 0:
        data = b"\xef\xbb\xbf" + data
    if draw(st.integers(0, 12)) == 0:
        at = draw(st.integers(0, len(data)))
        junk = draw(
            st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x00", b"\r", b"\x0c"])
        )
        data = data[:at] + junk + data[at:]
    if draw(st.integers(0, 12)) == 0:
        data = data[: draw(st.integers(0, len(data)))]
    return data.replace(b"\n", b"\\n")


@st.composite
def hostile_file(draw: st.DrawFn) -> tuple[bytes, list[bytes]]:
    """(file bytes, its lines as split on \\n)."""
    lines = draw(st.lists(hostile_line() | st.sampled_from([b"", b"  ", b"\r"]), max_size=12))
    ends = [draw(st.sampled_from([b"\n", b"\r\n"])) for _ in lines]
    data = b"".join(line + end for line, end in zip(lines, ends, strict=True))
    if data and draw(st.booleans()):
        data = data[:-1]  # no line break after the last line
    if draw(st.integers(0, 9)) == 0:
        data = b"\xef\xbb\xbf" + data
    return data, data.split(b"\n")


# -- what must hold for every input ---------------------------------------------------------


def outcomes(result: ParseResult) -> dict[int, tuple[str, str]]:
    """source_offset -> ('event', event_id) or (reason, detail); each offset once."""
    out: dict[int, tuple[str, str]] = {}
    events = result.events
    for off, eid in zip(
        events["source_offset"].to_pylist(), events["event_id"].to_pylist(), strict=True
    ):
        assert off not in out, f"offset {off} twice"
        out[off] = ("event", eid)
    dead = result.dead_letters
    for off, reason, detail in zip(
        dead["source_offset"].to_pylist(),
        dead["reason"].to_pylist(),
        dead["detail"].to_pylist(),
        strict=True,
    ):
        assert off not in out, f"offset {off} twice"
        out[off] = (reason, detail)
    return out


def check_result(result: ParseResult, lines: list[bytes], max_line_bytes: int) -> None:
    nonblank = [i for i, line in enumerate(lines) if line.strip()]
    assert result.lines_read == len(nonblank)
    assert result.events.num_rows + result.dead_letters.num_rows == len(nonblank)
    seen = outcomes(result)
    assert sorted(seen) == nonblank
    for reason, detail in seen.values():
        if reason != "event":
            assert reason in REASONS
            assert detail
            assert not detail.startswith(FALLBACK), f"unclassified: {detail}"
    events = result.events
    for ev in events.to_pylist():
        line = lines[ev["source_offset"]].strip()
        assert len(line) <= max_line_bytes
        assert ev["raw"] == line.decode("utf-8")  # verbatim (BOM included)
        assert EARLIEST_EVENT_TIME <= ev["event_time"] <= latest_event_time(INGESTED)
        for name in TEXT_COLUMNS:
            assert "\x00" not in (ev[name] or "")
        assert all("\x00" not in (t or "") for t in ev["rule_tags"])
    for dead in result.dead_letters.to_pylist():
        line = lines[dead["source_offset"]].strip()
        if dead["reason"] == "too_large":
            assert len(line) > max_line_bytes
            assert len(dead["raw"]) <= 4096  # kept bytes (a bad one shows as U+FFFD)
            assert line.decode("utf-8", "replace").startswith(dead["raw"].rstrip("\ufffd"))
        else:
            assert dead["raw"] == line.decode("utf-8", "replace")
    # what the stores and the correlation do with event times must not overflow
    times = events["event_time"]
    days = utc_days.event_days(times)
    if days:
        utc_days.days_range(days)
        minutes = buckets.touched_minutes(times)
        for width in (buckets.MINUTE, buckets.HOUR, buckets.DAY):
            buckets.widen(buckets.to_ranges(minutes, buckets.MINUTE), width)
        windows.touched_windows(times, timedelta(days=1), timedelta(hours=1))
        windows.day_windows(days, timedelta(hours=6))


def run(data: bytes, max_line_bytes: int) -> ParseResult:
    return parse(split_lines(data), "hostile.jsonl", INGESTED, max_line_bytes=max_line_bytes)


LINE_LIMITS = st.sampled_from([1024, 4096, 1 << 20])


@PROPS
@given(hostile_file(), LINE_LIMITS)
def test_parse_never_raises_and_accounts_for_every_line(
    case: tuple[bytes, list[bytes]], max_line_bytes: int
) -> None:
    data, lines = case
    check_result(run(data, max_line_bytes), lines, max_line_bytes)


@settings(PROPS, max_examples=60)
@given(hostile_file(), LINE_LIMITS)
def test_a_lines_outcome_does_not_depend_on_its_block(
    case: tuple[bytes, list[bytes]], max_line_bytes: int
) -> None:
    """Alone, in its file, or next to a line that sends the block down the slow path."""
    data, lines = case
    together = outcomes(run(data, max_line_bytes))
    poisoned = outcomes(run(b"{broken\n" + data, max_line_bytes))
    for offset, outcome in together.items():
        alone = run(b"\n" * offset + lines[offset], max_line_bytes)
        assert outcomes(alone) == {offset: outcome}
        assert poisoned[offset + 1] == outcome


@settings(PROPS, max_examples=60)
@given(
    hostile_file(),
    st.sampled_from([1024, 4096]),
    st.integers(1, 64),
    st.sampled_from([1, 7, 100, 1000, 5000]),
    st.data(),
)
def test_streamed_reading_gives_the_same_outcomes(
    case: tuple[bytes, list[bytes]],
    max_line_bytes: int,
    block_bytes: int,
    read_bytes: int,
    data: st.DataObject,
) -> None:
    """LineReader (bounded memory, any chunking) and split_lines see the same lines."""
    raw, _ = case
    # some lines longer than the limit, some padded with blanks around the limit
    extra = data.draw(st.lists(st.sampled_from([0, 1, 2]), max_size=3))
    for kind in extra:
        body = b'{"x":"' + b"y" * (max_line_bytes - 8 + kind * 3) + b'"}'
        raw += b"\n" + data.draw(st.sampled_from([b"", b"  ", b"\t"])) + body
        raw += data.draw(st.sampled_from([b"", b" " * 10, b"\r"]))
    reader = LineReader(block_bytes, max_line_bytes)
    blocks = [
        block
        for start in range(0, len(raw), read_bytes)
        for block in reader.feed(raw[start : start + read_bytes])
    ]
    blocks += reader.finish()
    streamed = [parse(b, "f", INGESTED, max_line_bytes=max_line_bytes) for b in blocks]
    whole = outcomes(run(raw, max_line_bytes))
    merged: dict[int, tuple[str, str]] = {}
    for result in streamed:
        got = outcomes(result)
        assert not set(got) & set(merged)
        merged.update(got)
    assert merged == whole


# -- the crash classes found, one example each ----------------------------------------------


def _line(**fields: str) -> bytes:
    values = {**GOOD, **fields}
    return ("{" + ",".join(f'"{k}":{v}' for k, v in values.items()) + "}").encode()


CRASH_CLASSES = [
    # (line, reason): each of these failed the whole batch (raised) before
    (_line(x=deep(10_000, "array")), "too_deep"),  # RecursionError in json.loads
    (_line(timestamp='"9999-12-31T23:59:59Z"'), "out_of_range"),  # OverflowError downstream
    (_line(timestamp='"9999-12-31T23:59:59-05:00"'), "out_of_range"),  # past datetime.max
    (_line(status_code="9" * 5000), "out_of_range"),  # ValueError: int max str digits
    (_line(rule_tags=f"[{'9' * 5000}]"), "wrong_type"),  # ValueError in the type check
]


@pytest.mark.parametrize(("bad", "reason"), CRASH_CLASSES)
@pytest.mark.parametrize("company", ["alone", "between good lines", "after a bad line"])
def test_crash_classes_are_dead_letters(bad: bytes, reason: str, company: str) -> None:
    good = _line()
    lines = {
        "alone": [bad],
        "between good lines": [good, bad, good],
        "after a bad line": [b"{broken", bad, good],
    }[company]
    got = outcomes(run(b"\n".join(lines), 1 << 20))
    kinds = [got[i][0] for i in range(len(lines))]
    expected = {
        "alone": [reason],
        "between good lines": ["event", reason, "event"],
        "after a bad line": ["invalid_json", reason, "event"],
    }[company]
    assert kinds == expected, got


UNCLASSIFIED_BEFORE = [
    # (line, reason): dead letters whose reason was the vague invalid_json before
    (b"\xef\xbb\xbf" + _line(), "event"),  # a BOM
    (b"\xef\xbb\xbf  " + _line(), "event"),
    (b"\xef\xbb\xbf", "invalid_json"),
    (b"\xef\xbb\xbf[1]", "not_an_object"),
    (_line()[:-1] + b',"host":"b"}', "duplicate_field"),
    (_line(user_agent='"\\ud800"'), "invalid_json"),  # lone surrogate
    (_line(x="1e999"), "out_of_range"),  # beyond a double
    (_line(status_code="9223372036854775808"), "out_of_range"),  # beyond int64
    (_line(rule_id="-9223372036854775809"), "out_of_range"),
    (_line(x="9" * 5000), "event"),  # a huge integer Arrow skips in an unknown field
]


@pytest.mark.parametrize(("raw", "reason"), UNCLASSIFIED_BEFORE)
def test_refusals_get_a_specific_reason(raw: bytes, reason: str) -> None:
    got = outcomes(run(raw, 1 << 20))
    assert got[0][0] == reason, got
    if reason != "event":
        assert not got[0][1].startswith(FALLBACK)


# -- helpers: nesting depth, limits ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        (b"", 0),
        (b"{}", 1),
        (b'{"a":[1,{"b":[]}]}', 4),
        (b'{"a":"[[[[{{{{"}', 1),  # brackets in strings do not count
        (b'{"a":"\\"[[[["}', 1),  # nor after an escaped quote
        (b'{"a":"\\\\","b":[[]]}', 3),  # an escaped backslash ends no string
        (b"[" * 100 + b"]" * 100, 100),
        (b"]]]]", 0),
    ],
)
def test_nesting_depth(text: bytes, depth: int) -> None:
    assert nesting_depth(text) == depth


BRACKETY_JSON = st.recursive(
    st.none() | st.integers() | st.text(st.sampled_from('[]{}"\\a')),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=20,
)


@given(BRACKETY_JSON)
@settings(PROPS, max_examples=200)
def test_nesting_depth_matches_the_structure(value: Any) -> None:
    def depth(v: Any) -> int:
        if isinstance(v, list):
            return 1 + max((depth(x) for x in v), default=0)
        if isinstance(v, dict):
            return 1 + max((depth(x) for x in v.values()), default=0)
        return 0

    assert nesting_depth(json.dumps(value).encode()) == depth(value)


def test_latest_event_time_never_overflows() -> None:
    assert latest_event_time(INGESTED) == INGESTED + timedelta(days=1)
    assert latest_event_time(datetime.max.replace(tzinfo=UTC)) == LATEST_EVENT_TIME
    assert latest_event_time(LATEST_EVENT_TIME) == LATEST_EVENT_TIME


def test_downstream_arithmetic_at_the_latest_accepted_time() -> None:
    """The largest event time the parser lets through, whatever the ingestion time."""
    last = LATEST_EVENT_TIME
    times = pa.array([last, last - timedelta(microseconds=1)], pa.timestamp("us", tz="UTC"))
    days = utc_days.event_days(times)
    assert days == [date(9998, 12, 31), date(9999, 1, 1)]
    assert utc_days.days_range(days)[1] == datetime(9999, 1, 2, tzinfo=UTC)
    ranges = buckets.to_ranges(buckets.touched_minutes(times), buckets.MINUTE)
    assert buckets.widen(ranges, buckets.DAY)[-1][1] == datetime(9999, 1, 2, tzinfo=UTC)
    assert windows.touched_windows(times, timedelta(days=1))[-1] == last
    assert windows.day_windows(days, timedelta(days=1))[-1] == last
    assert utc_days.day_range(days[-1])[1] == datetime(9999, 1, 2, tzinfo=UTC)


def test_too_large_dead_letter_id_covers_the_whole_line_not_the_limit() -> None:
    head = _line(request_uri=json.dumps("/" + "a" * 5000))[:-2]
    one, other = head + b'1"}', head + b'2"}'  # the same first 4 KiB
    ids = [
        parse(split_lines(line), "f", INGESTED, max_line_bytes=limit).dead_letters
        for line, limit in ((one, 1024), (one, 2048), (other, 1024))
    ]
    assert [d["reason"][0].as_py() for d in ids] == ["too_large"] * 3
    first, same, different = (d["dead_letter_id"][0].as_py() for d in ids)
    assert first == same != different
