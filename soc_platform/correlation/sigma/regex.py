"""Sigma regular expressions (PCRE) -> PostgreSQL advanced regular expressions (ARE).

Sigma's ``|re`` values are PCRE (the Sigma modifiers appendix), with the flags ``i``
(case-insensitive), ``m`` (``^``/``$`` at line breaks) and ``s`` (``.`` matches a newline).
PostgreSQL's ARE looks alike but differs where it matters: ``\\b`` is a backspace there,
``.`` matches a newline by default, its ``m`` flag also changes ``.``, embedded options are
only allowed at the very start, repetition counts stop at 255, and ``\\w``/``\\d``, word
boundaries and case folding follow the collation. So the pattern is tokenized and
rewritten element by element, never by string replacement:

- ``.``, ``^``, ``$``, ``\\A``, ``\\Z``, ``\\z`` get PCRE's meaning under the flags in force
  at that point (``$`` without ``m`` also matches before a final newline, as in PCRE);
- case-insensitivity is spelled out: a letter becomes the bracket of its case variants
  (Unicode simple case folding: ``k``, ``K`` and the Kelvin sign), a class gains the
  variants of its members. The result needs no ``~*``, so inline and scoped flags
  (``(?i)``, ``(?-i:...)``) are exact and no locale decides what a case variant is;
- ``\\d``, ``\\w``, ``\\s`` and the POSIX classes are PCRE's ASCII sets, written out;
  ``\\b``/``\\B`` become ``\\y``/``\\Y``, which are ASCII word boundaries because the backend
  applies the regex under ``COLLATE "C"``; ``[\\b]`` is a backspace, as in PCRE;
- capturing and named groups become non-capturing groups; lazy quantifiers and ``(?U)``
  become greedy ones (whether a pattern matches does not depend on greediness).

Constructs ARE cannot express with the same meaning are refused with the construct named
(:class:`UnsupportedRegexError`): backreferences, possessive quantifiers, atomic groups,
conditionals, recursion, ``\\G``, ``\\K``, Unicode properties (``\\p{..}``, ``\\X``), backtracking
verbs, callouts, branch reset groups, repetition counts above 255.
"""

import re
from dataclasses import dataclass, replace

from soc_platform.correlation.sigma.charsets import (
    DIGIT,
    HSPACE,
    MAX_CP,
    NEWLINE,
    POSIX,
    SPACE,
    VSPACE,
    WORD,
    Interval,
    bracket,
    case_variants,
    complement,
    escape_cp,
    with_case_variants,
)

MAX_REPEAT = 255  # PostgreSQL's RE_DUP_MAX

_CLASS_ESCAPES: dict[str, tuple[Interval, ...]] = {
    "d": DIGIT,
    "w": WORD,
    "s": SPACE,
    "h": HSPACE,
    "v": VSPACE,
}
_CHAR_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f", "e": "\x1b", "a": "\x07"}
_META = frozenset("\\^$.[]|()*+?{}")
#: End-of-string assertions as the last element of a top-level branch: nothing follows, so
#: consuming the optional newline matches the same strings, and PostgreSQL runs it faster
#: than a lookahead constraint.
_AT_END = {"(?=\\n?$)": "\\n?$", "(?=\\n|$)": "(?:\\n|$)", "(?=\\n?\\Z)": "\\n?\\Z"}
_QUANT = re.compile(r"\{(\d*)(?:(,)(\d*))?\}")
_INLINE_FLAGS = re.compile(r"\(\?([a-zA-Z]*)(?:-([a-zA-Z]*))?(\)|:)")
_SUPPORTED_FLAGS = frozenset("imsxnUJ")


class UnsupportedRegexError(ValueError):
    """A Sigma regular expression PostgreSQL cannot evaluate with PCRE's meaning."""


@dataclass(frozen=True)
class _Flags:
    i: bool = False
    m: bool = False
    s: bool = False
    x: bool = False

    def changed(self, on: str, off: str) -> "_Flags":
        flags = self
        for names, value in ((on, True), (off, False)):
            for name in names:
                if name not in _SUPPORTED_FLAGS:
                    raise UnsupportedRegexError(
                        f"inline flag '{name}' (PCRE flags: i, m, s, x, n, U, J)"
                    )
                if name in "imsx":
                    flags = replace(flags, **{name: value})
        return flags


def to_postgres(
    pattern: str, *, ignorecase: bool = False, multiline: bool = False, dotall: bool = False
) -> str:
    """The ARE (for ``~`` under ``COLLATE "C"``) matching what the PCRE ``pattern`` matches.

    Raises:
        UnsupportedRegexError: naming the construct ARE cannot express, or the syntax error.
    """
    parser = _Parser(pattern)
    out = parser.alternation(_Flags(i=ignorecase, m=multiline, s=dotall))
    if parser.pos < len(pattern):  # pragma: no cover - alternation stops only at ')' or end
        raise UnsupportedRegexError(f"unmatched ')' at offset {parser.pos}")
    return out


class _Parser:
    def __init__(self, src: str) -> None:
        self.src = src
        self.pos = 0
        self.depth = 0

    # -- helpers ----------------------------------------------------------------------
    def peek(self, k: int = 0) -> str:
        i = self.pos + k
        return self.src[i] if i < len(self.src) else ""

    def startswith(self, s: str) -> bool:
        return self.src.startswith(s, self.pos)

    def fail(self, what: str) -> UnsupportedRegexError:
        return UnsupportedRegexError(f"{what} at offset {self.pos}")

    def skip_extended(self, flags: _Flags) -> None:
        """Under (?x), whitespace and #-comments outside classes are not part of the pattern."""
        while flags.x and self.pos < len(self.src):
            c = self.src[self.pos]
            if c in " \t\n\r\f\v":
                self.pos += 1
            elif c == "#":
                end = self.src.find("\n", self.pos)
                self.pos = len(self.src) if end < 0 else end + 1
            else:
                return

    # -- structure --------------------------------------------------------------------
    def alternation(self, flags: _Flags) -> str:
        """Branches up to the closing ')' of the current group (not consumed) or the end."""
        branches: list[str] = []
        items: list[str] = []
        while True:
            self.skip_extended(flags)
            c = self.peek()
            if c == "":
                break
            if c == ")":
                if self.depth == 0:
                    raise self.fail("unmatched ')'")
                break
            if c == "|":
                branches.append("".join(items))
                items = []
                self.pos += 1
                continue
            m = _INLINE_FLAGS.match(self.src, self.pos)
            if m and m.group(3) == ")" and set(m.group(1) + (m.group(2) or "")) <= _SUPPORTED_FLAGS:
                # (?i) and friends: in force up to the end of the enclosing group (the
                # following branches included)
                self.pos = m.end()
                flags = flags.changed(m.group(1), m.group(2) or "")
                continue
            if self.startswith("\\Q"):
                literal = self.quoted()
                if not literal:
                    continue
                items.extend(self.literal(ch, flags) for ch in literal[:-1])
                element, quantifiable = self.literal(literal[-1], flags), True
            else:
                atom, quantifiable = self.atom(flags)
                if atom is None:
                    continue
                element = atom
            items.append(self.quantified(element, quantifiable, flags))
            if self.depth == 0 and self.peek() in ("|", ""):
                items[-1] = _AT_END.get(items[-1], items[-1])
        branches.append("".join(items))
        return "|".join(branches)

    def quantified(self, atom: str, quantifiable: bool, flags: _Flags) -> str:
        self.skip_extended(flags)
        quant = self.quantifier()
        if quant is None:
            return atom
        if not quantifiable:
            raise self.fail("quantifier after an assertion")
        self.skip_extended(flags)
        if self.quantifier(probe=True):
            raise self.fail("a quantifier after a quantifier")
        return atom + quant

    def quantifier(self, probe: bool = False) -> str | None:
        c = self.peek()
        if c and c in "*+?":
            if probe:
                return c
            self.pos += 1
            text = c
        elif c == "{":
            m = _QUANT.match(self.src, self.pos)
            if not m or (m.group(1) == "" and m.group(3) in (None, "")):
                return None  # not a quantifier: a literal '{' (PCRE)
            if probe:
                return "{"
            lo = int(m.group(1) or 0)
            hi: int | None = lo
            if m.group(2):  # {n,} or {n,m} (or PCRE2's {,m})
                hi = int(m.group(3)) if m.group(3) else None
            if lo > MAX_REPEAT or (hi is not None and hi > MAX_REPEAT):
                raise self.fail(
                    f"repetition count above {MAX_REPEAT} ('{m.group(0)}'; PostgreSQL's limit)"
                )
            if hi is not None and hi < lo:
                raise self.fail(f"repetition range out of order ('{m.group(0)}')")
            self.pos = m.end()
            if hi == lo:
                text = f"{{{lo}}}"
            else:
                text = f"{{{lo},}}" if hi is None else f"{{{lo},{hi}}}"
        else:
            return None
        nxt = self.peek()
        if nxt == "+":
            raise self.fail("possessive quantifier")
        if nxt == "?":
            self.pos += 1  # lazy: whether the pattern matches does not depend on it
        return text

    def atom(self, flags: _Flags) -> tuple[str | None, bool]:
        """One element: (ARE text or None for nothing, whether a quantifier may follow)."""
        c = self.src[self.pos]
        if c == "(":
            return self.group(flags)
        if c == "[":
            return self.char_class(flags), True
        if c == ".":
            self.pos += 1
            return ("." if flags.s else bracket(NEWLINE, negate=True)), True
        if c == "^":
            self.pos += 1
            return ("(?:^|(?<=\\n))" if flags.m else "^"), False
        if c == "$":
            self.pos += 1
            return ("(?=\\n|$)" if flags.m else "(?=\\n?$)"), False
        if c == "\\":
            return self.escape(flags)
        if c in "*+?" or (c == "{" and self.quantifier(probe=True)):
            raise self.fail("quantifier without anything to repeat")
        self.pos += 1
        return self.literal(c, flags), True

    def group(self, flags: _Flags) -> tuple[str | None, bool]:
        start = self.pos
        self.pos += 1
        kind = "(?:"
        inner_flags = flags
        if self.peek() == "*":
            raise self.fail("backtracking verb '(*...)'")
        if self.peek() == "?":
            rest = self.src[self.pos + 1 :]
            if rest.startswith("#"):
                end = self.src.find(")", self.pos)
                if end < 0:
                    raise self.fail("unterminated comment group")
                self.pos = end + 1
                return None, False
            if rest.startswith(":"):
                self.pos += 2
            elif rest[:1] in ("=", "!"):
                kind = "(?" + rest[0]
                self.pos += 2
            elif rest[:2] in ("<=", "<!"):
                kind = "(?" + rest[:2]
                self.pos += 3
            elif rest.startswith(("P<", "<", "'")) and not rest.startswith(("<=", "<!")):
                name = re.match(r"(?:P<|<|')([A-Za-z_]\w*)[>']", rest)
                if not name:
                    raise self.fail("malformed group name")
                self.pos += 1 + name.end()
            elif rest.startswith(">"):
                raise self.fail("atomic group '(?>...)'")
            elif rest.startswith("|"):
                raise self.fail("branch reset group '(?|...)'")
            elif rest.startswith("("):
                raise self.fail("conditional group '(?(...)...)'")
            elif rest.startswith(("P=", "P>", "&")):
                raise self.fail("backreference or subroutine call to a named group")
            elif re.match(r"(?:R|[+-]?\d+)\)", rest):
                raise self.fail("recursion or subroutine call")
            elif rest.startswith("C"):
                raise self.fail("callout '(?C...)'")
            else:
                m = _INLINE_FLAGS.match(self.src, self.pos - 1)
                if not m:
                    raise self.fail(f"unknown group syntax '{self.src[start : start + 4]}'")
                inner_flags = flags.changed(m.group(1), m.group(2) or "")
                if m.group(3) == ")":  # pragma: no cover - alternation() takes (?flags)
                    raise self.fail("unexpected inline flags")
                self.pos = m.end()
        self.depth += 1
        inner = self.alternation(inner_flags)
        self.depth -= 1
        if self.peek() != ")":
            self.pos = start
            raise self.fail("unterminated group '('")
        self.pos += 1
        quantifiable = kind == "(?:"
        return f"{kind}{inner})", quantifiable

    def quoted(self) -> str:
        """The literal text of \\Q...\\E (to the end when \\E is missing)."""
        self.pos += 2
        end = self.src.find("\\E", self.pos)
        text = self.src[self.pos :] if end < 0 else self.src[self.pos : end]
        self.pos = len(self.src) if end < 0 else end + 2
        return text

    def escape(self, flags: _Flags) -> tuple[str | None, bool]:
        self.pos += 1
        c = self.peek()
        if c == "":
            raise self.fail("trailing backslash")
        assertions = {"b": "\\y", "B": "\\Y", "A": "\\A", "z": "\\Z", "Z": "(?=\\n?\\Z)"}
        if c in assertions:
            self.pos += 1
            return assertions[c], False
        if c == "E":  # a stray \E is ignored (PCRE)
            self.pos += 1
            return None, False
        if c.lower() in _CLASS_ESCAPES:
            self.pos += 1
            return bracket(_CLASS_ESCAPES[c.lower()], negate=c.isupper()), True
        if c == "N":
            self.pos += 1
            if self.peek() == "{":
                raise self.fail("named character '\\N{...}'")
            return bracket(NEWLINE, negate=True), True
        if c == "R":
            self.pos += 1
            return "(?:\\r\\n|" + bracket(VSPACE) + ")", True
        ch = self.char_escape()
        return self.literal(ch, flags), True

    def char_escape(self, in_class: bool = False) -> str:
        """The character an escape stands for (pos at the letter after the backslash)."""
        c = self.peek()
        self.pos += 1
        if c in _CHAR_ESCAPES:
            return _CHAR_ESCAPES[c]
        if in_class and c == "b":
            return "\b"
        if c == "x":
            if self.peek() == "{":
                return self.braced_code(16, "\\x{...}")
            digits = re.match(r"[0-9a-fA-F]{0,2}", self.src[self.pos :])
            assert digits is not None
            self.pos += digits.end()
            return self.code_point(int(digits.group(0) or "0", 16))
        if c == "u":
            digits = re.match(r"[0-9a-fA-F]{4}", self.src[self.pos :])
            if not digits:
                raise self.fail("'\\u' without four hex digits")
            self.pos += 4
            return self.code_point(int(digits.group(0), 16))
        if c == "o" and self.peek() == "{":
            return self.braced_code(8, "\\o{...}")
        if c == "0":
            digits = re.match(r"[0-7]{0,2}", self.src[self.pos :])
            assert digits is not None
            self.pos += digits.end()
            return self.code_point(int("0" + digits.group(0), 8))
        if c == "c":
            ctl = self.peek()
            if not ctl or ord(ctl) > 127:
                raise self.fail("'\\c' without an ASCII character")
            self.pos += 1
            return chr(ord(ctl.upper()) ^ 0x40)
        self.pos -= 1
        if c.isdigit():
            raise self.fail(f"backreference '\\{c}'")
        if c in ("g", "k"):
            raise self.fail(f"backreference '\\{c}'")
        if c in ("p", "P", "X"):
            raise self.fail(f"Unicode property '\\{c}'")
        if c in ("G", "K", "C"):
            raise self.fail(f"'\\{c}'")
        if c.isascii() and c.isalnum():
            raise self.fail(f"unknown escape '\\{c}'")
        self.pos += 1
        return c  # an escaped non-alphanumeric character is itself

    def braced_code(self, base: int, what: str) -> str:
        end = self.src.find("}", self.pos)
        digits = self.src[self.pos + 1 : end] if end > 0 else ""
        try:
            value = int(digits, base)
        except ValueError:
            raise self.fail(f"malformed {what}") from None
        self.pos = end + 1
        return self.code_point(value)

    def code_point(self, value: int) -> str:
        if value == 0:
            raise self.fail("a NUL character (PostgreSQL text cannot hold one)")
        if value > MAX_CP or 0xD800 <= value <= 0xDFFF:
            raise self.fail(f"invalid code point {value:#x}")
        return chr(value)

    # -- classes ----------------------------------------------------------------------
    def char_class(self, flags: _Flags) -> str:
        start = self.pos
        self.pos += 1
        negate = self.peek() == "^"
        if negate:
            self.pos += 1
        folded: list[Interval] = []  # members case-insensitivity applies to
        fixed: list[Interval] = []  # \d, \w, POSIX classes: fixed sets
        first = True
        while True:
            c = self.peek()
            if c == "":
                self.pos = start
                raise self.fail("unterminated character class '['")
            if c == "]" and not first:
                self.pos += 1
                break
            first = False
            if self.startswith("\\Q"):
                folded.extend((ord(ch), ord(ch)) for ch in self.quoted())
                continue
            if self.startswith("\\E"):
                self.pos += 2
                continue
            if c == "[" and self.peek(1) in (":", ".", "="):
                fixed.extend(self.posix_class())
                self.no_range_after_class()
                continue
            low = self.class_member()
            if isinstance(low, tuple):
                fixed.extend(low)
                self.no_range_after_class()
                continue
            if self.peek() == "-" and self.peek(1) not in ("]", ""):
                self.pos += 1
                high = self.class_member()
                if isinstance(high, tuple):
                    raise self.fail("a class escape as the end of a range")
                if ord(high) < ord(low):
                    raise self.fail(f"range out of order '{low}-{high}'")
                folded.append((ord(low), ord(high)))
            else:
                folded.append((ord(low), ord(low)))
        if flags.i:
            folded = list(with_case_variants(folded))
        return bracket(tuple(folded) + tuple(fixed), negate=negate)

    def no_range_after_class(self) -> None:
        if self.peek() == "-" and self.peek(1) not in ("]", ""):
            raise self.fail("a class escape as the start of a range")

    def class_member(self) -> str | tuple[Interval, ...]:
        c = self.peek()
        if c != "\\":
            self.pos += 1
            return c
        self.pos += 1
        e = self.peek()
        if e == "":
            raise self.fail("trailing backslash")
        if e.lower() in _CLASS_ESCAPES:
            self.pos += 1
            members = _CLASS_ESCAPES[e.lower()]
            return complement(members) if e.isupper() else members
        if e in ("N", "R", "B", "A", "z", "Z"):
            raise self.fail(f"'\\{e}' in a character class")
        return self.char_escape(in_class=True)

    def posix_class(self) -> tuple[Interval, ...]:
        m = re.match(r"\[:(\^?)([a-z]+):\]", self.src[self.pos :])
        if not m:
            raise self.fail("collating element or equivalence class ('[.' '[=')")
        if m.group(2) not in POSIX:
            raise self.fail(f"unknown POSIX class '[:{m.group(2)}:]'")
        self.pos += m.end()
        members = POSIX[m.group(2)]
        return complement(members) if m.group(1) else members

    def literal(self, ch: str, flags: _Flags) -> str:
        if flags.i:
            variants = case_variants(ord(ch))
            if len(variants) > 1:
                return bracket(tuple((v, v) for v in variants))
        if ch in _META:
            return "\\" + ch
        if ch.isprintable():
            return ch
        return escape_cp(ord(ch))
