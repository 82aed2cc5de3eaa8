"""Code point sets for the regex translator: PCRE's ASCII classes, ARE bracket
expressions written with escapes, and Unicode simple case folding."""

from functools import cache

#: one code point interval, both ends included
Interval = tuple[int, int]

DIGIT: tuple[Interval, ...] = ((0x30, 0x39),)
WORD: tuple[Interval, ...] = ((0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A))
SPACE: tuple[Interval, ...] = ((0x09, 0x0D), (0x20, 0x20))  # HT LF VT FF CR and space
HSPACE: tuple[Interval, ...] = (
    (0x09, 0x09),
    (0x20, 0x20),
    (0xA0, 0xA0),
    (0x1680, 0x1680),
    (0x180E, 0x180E),
    (0x2000, 0x200A),
    (0x202F, 0x202F),
    (0x205F, 0x205F),
    (0x3000, 0x3000),
)
VSPACE: tuple[Interval, ...] = ((0x0A, 0x0D), (0x85, 0x85), (0x2028, 0x2029))
NEWLINE: tuple[Interval, ...] = ((0x0A, 0x0A),)
POSIX: dict[str, tuple[Interval, ...]] = {
    "alpha": ((0x41, 0x5A), (0x61, 0x7A)),
    "digit": DIGIT,
    "alnum": ((0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)),
    "upper": ((0x41, 0x5A),),
    "lower": ((0x61, 0x7A),),
    "space": SPACE,
    "blank": ((0x09, 0x09), (0x20, 0x20)),
    "punct": ((0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)),
    "xdigit": ((0x30, 0x39), (0x41, 0x46), (0x61, 0x66)),
    "word": WORD,
    "cntrl": ((0x00, 0x1F), (0x7F, 0x7F)),
    "graph": ((0x21, 0x7E),),
    "print": ((0x20, 0x7E),),
    "ascii": ((0x00, 0x7F),),
}
MAX_CP = 0x10FFFF


# -- code point sets ------------------------------------------------------------------
def normalize(intervals: tuple[Interval, ...] | list[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for lo, hi in sorted(intervals):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def complement(intervals: tuple[Interval, ...] | list[Interval]) -> tuple[Interval, ...]:
    out: list[Interval] = []
    nxt = 1  # NUL cannot occur in PostgreSQL text
    for lo, hi in normalize(intervals):
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = max(nxt, hi + 1)
    if nxt <= MAX_CP:
        out.append((nxt, MAX_CP))
    return tuple(out)


def escape_cp(cp: int) -> str:
    return f"\\u{cp:04X}" if cp <= 0xFFFF else f"\\U{cp:08X}"


def _bracket_char(cp: int) -> str:
    ch = chr(cp)
    return ch if ch.isascii() and ch.isalnum() else escape_cp(cp)


def bracket(intervals: tuple[Interval, ...] | list[Interval], negate: bool = False) -> str:
    """An ARE bracket expression; every character not alphanumeric ASCII as \\u escapes."""
    members = normalize(intervals)
    if not members:
        # an empty set never matches; its complement always does
        return "." if negate else "[^\\u0001-\\U0010FFFF]"
    body = "".join(
        _bracket_char(lo) if lo == hi else f"{_bracket_char(lo)}-{_bracket_char(hi)}"
        for lo, hi in members
    )
    return f"[{'^' if negate else ''}{body}]"


# -- case folding ---------------------------------------------------------------------
@cache
def _case_table() -> dict[int, tuple[int, ...]]:
    """Code point -> every code point of its case-folding group (Unicode simple folding:
    ``str.casefold`` where it yields one character, else ``str.lower``), for characters
    that have other cases. Every cased script lies below U+1F000."""
    groups: dict[str, list[int]] = {}
    for cp in range(0x1F000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        key = ch.casefold()
        if len(key) != 1:
            key = ch.lower() if len(ch.lower()) == 1 else ch
        groups.setdefault(key, []).append(cp)
    return {cp: tuple(g) for g in groups.values() if len(g) > 1 for cp in g}


def case_variants(cp: int) -> tuple[int, ...]:
    return _case_table().get(cp, (cp,))


def with_case_variants(intervals: list[Interval]) -> list[Interval]:
    table = _case_table()
    members = normalize(intervals)
    extra: list[Interval] = []
    for lo, hi in members:
        if hi - lo < 512:
            cps: list[int] = [cp for cp in range(lo, hi + 1) if cp in table]
        else:
            cps = [cp for cp in table if lo <= cp <= hi]
        extra.extend((v, v) for cp in cps for v in table[cp])
    return normalize(members + extra)
