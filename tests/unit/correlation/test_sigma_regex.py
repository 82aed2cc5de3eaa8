"""The PCRE -> PostgreSQL ARE translator (pure): what each construct becomes, what is refused.

What the translations match on a real PostgreSQL is checked against Python's ``re`` over
generated patterns in ``tests/integration/test_sigma_regex_postgres.py``.
"""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from soc_platform.correlation.sigma.regex import UnsupportedRegexError, to_postgres

NOT_NL = r"[^\u000A]"
EOL = r"(?=\n?$)"


@pytest.mark.parametrize(
    ("pattern", "flags", "expected"),
    [
        # \b is a word boundary in PCRE, a backspace in ARE
        (r"\bsqlmap\b", "", r"\ysqlmap\y"),
        (r"\Bx", "", r"\Yx"),
        # ... but inside a class it is a backspace in PCRE too
        (r"[\b]", "", r"[\u0008]"),
        # . does not match a newline unless s; ARE's . does by default
        ("a.b", "", f"a{NOT_NL}b"),
        ("a.b", "s", "a.b"),
        ("(?s)a.b", "", "a.b"),
        ("(?s:a.)b.", "", f"(?:a.)b{NOT_NL}"),
        # ^ and $: the string (PCRE's $ also before a final newline); with m, every line
        ("^a$b", "", f"^a{EOL}b"),
        ("^a$b", "m", r"(?:^|(?<=\n))a(?=\n|$)b"),
        # at the end of a branch the newline may as well be consumed (faster in PostgreSQL)
        ("^a$", "", r"^a\n?$"),
        ("a$|b$", "m", r"a(?:\n|$)|b(?:\n|$)"),
        ("(a$)", "", f"(?:a{EOL})"),
        ("(?m)^a", "s", r"(?:^|(?<=\n))a"),
        (r"\Aa\z", "m", r"\Aa\Z"),
        (r"a\Z", "", r"a\n?\Z"),
        (r"a\Zb", "", r"a(?=\n?\Z)b"),
        # case-insensitivity is spelled out (no locale, scoped flags stay exact)
        ("Ab", "i", "[Aa][Bb]"),
        ("(?i)k", "", "[Kk\\u212A]"),
        ("a(?i:b)c", "", "a(?:[Bb])c"),
        ("(?i)a(?-i)b|c", "", "[Aa]b|c"),
        ("(?i)a|b(?-i)c|d", "", "[Aa]|[Bb]c|d"),
        ("ÄÖ", "i", "[\\u00C4\\u00E4][\\u00D6\\u00F6]"),
        ("[a-c]", "i", "[A-Ca-c]"),
        ("[^a]", "i", "[^Aa]"),
        ("1-2", "i", "1-2"),
        # PCRE's ASCII classes, written out
        (r"\d+\w*\s?", "", r"[0-9]+[0-9A-Z\u005Fa-z]*[\u0009-\u000D\u0020]?"),
        (r"\D", "", r"[^0-9]"),
        (r"[\d_]", "i", r"[0-9\u005F]"),
        ("[[:alpha:][:digit:]]", "", "[0-9A-Za-z]"),
        ("[[:^digit:]x]", "", r"[\u0001-\u002F\u003A-\U0010FFFF]"),
        (r"\h", "", r"[\u0009\u0020\u00A0\u1680\u180E\u2000-\u200A\u202F\u205F\u3000]"),
        (r"\N", "", NOT_NL),
        # classes: ] first, - at the edges, escapes, ranges
        ("[]a-]", "", r"[\u002D\u005Da]"),
        (r"[\]\\\-]", "", r"[\u002D\u005C-\u005D]"),
        (r"[\x41-\x{43}]", "", "[A-C]"),
        # metacharacters and non-printing characters are escaped, other text kept
        (r"a\.b\*\{\}\/", "", r"a\.b\*\{\}/"),
        ("ä😀 x", "", "ä😀 x"),
        ("\t", "", r"\u0009"),
        (r"\t\n\e\x41\x{1F600}\cA\0101", "", "\\u0009\\u000A\\u001BA😀\\u0001\\u0008" + "1"),
        (r"\uABCD", "", "\uabcd"),
        # groups: capturing and named groups do not capture; lookarounds stay
        ("(a)(?:b)(?P<n>c)(?<m>d)(?'o'e)", "", "(?:a)(?:b)(?:c)(?:d)(?:e)"),
        ("(?=a)(?!b)(?<=c)(?<!d)", "", "(?=a)(?!b)(?<=c)(?<!d)"),
        ("a(?#comment)b", "", "ab"),
        # quantifiers: lazy ones match the same strings; {,n} is PCRE2's {0,n}
        ("a*?b+?c??d{2}?", "", "a*b+c?d{2}"),
        ("x{2,}y{,3}z{4}w{1,255}", "", "x{2,}y{0,3}z{4}w{1,255}"),
        # a brace that is no quantifier is a literal
        ("a{,}b{x}{", "", r"a\{,\}b\{x\}\{"),
        # \Q...\E is literal text; a quantifier after it repeats its last character
        (r"\Qa.b\E+", "", r"a\.b+"),
        (r"[\Q]\E]", "", r"[\u005D]"),
        # extended mode drops whitespace and comments outside classes
        ("(?x) a b # note\n c [ ]", "", r"abc[\u0020]"),
        ("a b", "", "a b"),
        # flags that do not change whether a pattern matches are accepted
        ("(?U)a+(?n)(b)(?J)", "", "a+(?:b)"),
        ("", "", ""),
        ("a|", "", "a|"),
    ],
)
def test_translation(pattern: str, flags: str, expected: str) -> None:
    got = to_postgres(pattern, ignorecase="i" in flags, multiline="m" in flags, dotall="s" in flags)
    assert got == expected


@pytest.mark.parametrize(
    ("pattern", "named"),
    [
        (r"(a)\1", "backreference"),
        (r"(?P<x>a)(?P=x)", "backreference"),
        (r"\k<x>", "backreference"),
        (r"\g1", "backreference"),
        ("a++", "possessive quantifier"),
        ("a{2}+", "possessive quantifier"),
        ("(?>a)", "atomic group"),
        ("(?(1)a|b)", "conditional group"),
        ("(?R)", "recursion"),
        ("(?1)", "recursion"),
        ("(?&name)", "subroutine"),
        ("(?|a|b)", "branch reset"),
        ("(*FAIL)", "backtracking verb"),
        ("(?C1)", "callout"),
        (r"\p{L}", "Unicode property"),
        (r"\X", "Unicode property"),
        (r"\G", r"'\G'"),
        (r"a\Kb", r"'\K'"),
        ("a{256}", "repetition count above 255"),
        ("a{1,300}", "repetition count above 255"),
        ("a{3,2}", "out of order"),
        ("[z-a]", "out of order"),
        (r"[\d-z]", "class escape as the start of a range"),
        (r"[a-\d]", "class escape as the end of a range"),
        ("a**", "a quantifier after a quantifier"),
        ("*a", "quantifier without anything to repeat"),
        ("^*", "quantifier after an assertion"),
        ("(?=a)+", "quantifier after an assertion"),
        ("(a", "unterminated group"),
        ("a)", "unmatched ')'"),
        ("[a", "unterminated character class"),
        ("a\\", "trailing backslash"),
        (r"\q", r"unknown escape '\q'"),
        (r"\x00", "NUL"),
        (r"\x{110000}", "invalid code point"),
        ("(?a)x", "inline flag 'a'"),
        ("(?L:x)", "inline flag 'L'"),
        ("[[.a.]]", "collating element"),
        ("[[:foo:]]", "unknown POSIX class"),
        (r"\N{U+41}", "named character"),
    ],
)
def test_refused_naming_the_construct(pattern: str, named: str) -> None:
    with pytest.raises(UnsupportedRegexError, match=re.escape(named)):
        to_postgres(pattern)


ATOMS = st.sampled_from(
    ["a", "B", "ä", ".", "^", "$", r"\b", r"\d", r"\w", "[a-z]", "[^x]", "(", ")", "|", "*",
     "+", "?", "{2}", "{1,3}", "(?i)", "(?-i:", "(?:", "(?=", "(?<=", "\\", "[", "]", "{", "}",
     r"\Q", r"\E", "(?#", "-", " ", "\n"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(ATOMS, max_size=12).map("".join), st.booleans(), st.booleans(), st.booleans())
def test_any_input_translates_or_is_refused(pattern: str, i: bool, m: bool, s: bool) -> None:
    """Hostile input never crashes the translator: a translation, or UnsupportedRegexError."""
    try:
        out = to_postgres(pattern, ignorecase=i, multiline=m, dotall=s)
    except UnsupportedRegexError as e:
        assert str(e)
    else:
        assert isinstance(out, str)
