"""Go (RE2) regular expressions, for AVP_PATH_VALIDATION, translated into Python's `re`.

argocd-vault-plugin compiles AVP_PATH_VALIDATION with Go's `regexp.Compile`, so a pattern is
accepted or refused here exactly as Go's parser (regexp/syntax, Perl flags) does it, with Go's
error texts (`error parsing regexp: invalid or unsupported Perl syntax: `(?!``). The pattern is
parsed into a small tree and written out again in Python syntax with every Go meaning spelled
out, because the two dialects differ: `$` is the end of the text in Go (Python: also before a
final newline), `\\z` exists only in Go, `\\Z` only in Python, `\\d \\s \\w \\b` are ASCII in Go,
`(?U)` swaps greediness, flags may change mid-group, `x{,3}` is literal text in Go, `x*+` is an
error in Go and possessive in Python, and look-arounds and back-references do not exist in RE2.

Not supported (refused with a message that says so): Unicode classes `\\pL`, `\\p{Greek}`.
Paths are ASCII (paths.py refuses anything else), so Go's Unicode case folding and Python's agree
on every path we match.
"""

from __future__ import annotations

import re
from collections import namedtuple

MAX_REPEAT = 1000
_HEX = "0123456789abcdefABCDEF"

# Tree nodes. fold: case-insensitive; greedy already accounts for (?U).
Lit = namedtuple("Lit", "char fold")
Cls = namedtuple("Cls", "ranges negate fold")  # ranges: [(lo, hi)] code points
Any = namedtuple("Any", "dotnl")
Anchor = namedtuple("Anchor", "python")
Group = namedtuple("Group", "alternatives")  # [[node, ...], ...]
Repeat = namedtuple("Repeat", "node min max greedy")  # max -1: unbounded

_DIGIT = [(0x30, 0x39)]
_SPACE = [(0x09, 0x0A), (0x0C, 0x0D), (0x20, 0x20)]
_WORD = [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)]
PERL = {"d": _DIGIT, "s": _SPACE, "w": _WORD}
POSIX = {
    "alnum": [(0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)], "alpha": [(0x41, 0x5A), (0x61, 0x7A)],
    "ascii": [(0x00, 0x7F)], "blank": [(0x09, 0x09), (0x20, 0x20)], "cntrl": [(0x00, 0x1F), (0x7F, 0x7F)],
    "digit": _DIGIT, "graph": [(0x21, 0x7E)], "lower": [(0x61, 0x7A)], "print": [(0x20, 0x7E)],
    "punct": [(0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)],
    "space": [(0x09, 0x0D), (0x20, 0x20)], "upper": [(0x41, 0x5A)], "word": _WORD,
    "xdigit": [(0x30, 0x39), (0x41, 0x46), (0x61, 0x66)],
}
_W = "[0-9A-Za-z_]"
_BRACE = re.compile(r"\{([0-9]+)(?:(,)([0-9]*))?\}")
_BOUNDARY = f"(?:(?<={_W})(?!{_W})|(?<!{_W})(?={_W}))"
_NO_BOUNDARY = f"(?:(?<={_W})(?={_W})|(?<!{_W})(?!{_W}))"


class RE2Error(ValueError):
    """Go's `*syntax.Error` text."""

    def __init__(self, code: str, expr: str):
        super().__init__(f"error parsing regexp: {code}: `{expr}`")


class _Flags:
    __slots__ = ("fold", "oneline", "dotnl", "nongreedy")

    def __init__(self, fold=False, oneline=True, dotnl=False, nongreedy=False):
        self.fold, self.oneline, self.dotnl, self.nongreedy = fold, oneline, dotnl, nongreedy

    def copy(self) -> "_Flags":
        return _Flags(self.fold, self.oneline, self.dotnl, self.nongreedy)


class _Parser:
    def __init__(self, pattern: str):
        self.s = pattern
        self.i = 0
        self.flags = _Flags()

    # ---- structure -------------------------------------------------------------------------

    def parse(self) -> Group:
        group = self._alternation()
        if self.i < len(self.s):  # only a ')' stops an alternation early
            raise RE2Error("unexpected )", self.s)
        return group

    def _alternation(self) -> Group:
        saved = self.flags.copy()
        alternatives = [self._concat()]
        while self.i < len(self.s) and self.s[self.i] == "|":
            self.i += 1
            alternatives.append(self._concat())
        self.flags = saved  # flags set inside a group end with it
        return Group(alternatives)

    def _concat(self) -> list:
        s = self.s
        items: list = []
        last_repeat = -1  # where the previous item's repetition operator started, if it was one
        while self.i < len(s) and s[self.i] not in "|)":
            c = s[self.i]
            start = self.i
            repeat_at = -1
            if c in "*+?":
                self.i += 1
                lo, hi = {"*": (0, -1), "+": (1, -1), "?": (0, 1)}[c]
                self._repeat(items, lo, hi, start, last_repeat)
                repeat_at = start
            elif c == "{" and self._brace() is not None:
                lo, hi, end = self._brace()
                if lo < 0 or lo > MAX_REPEAT or hi > MAX_REPEAT or (hi >= 0 and lo > hi):
                    raise RE2Error("invalid repeat count", s[start:end])
                self.i = end
                self._repeat(items, lo, hi, start, last_repeat)
                repeat_at = start
            elif c == "(":
                node = self._group()
                if node is not None:
                    items.append(node)
            elif c == "[":
                items.append(self._class())
            elif c == "\\":
                items.extend(self._escape())
            else:
                self.i += 1
                items.append(self._atom(c))
            last_repeat = repeat_at
        return items

    def _atom(self, c: str):
        f = self.flags
        if c == ".":
            return Any(f.dotnl)
        if c == "^":
            return Anchor(r"\A" if f.oneline else "(?m:^)")
        if c == "$":
            return Anchor(r"\Z" if f.oneline else "(?m:$)")
        if 0xD800 <= ord(c) <= 0xDFFF:  # undecodable bytes from the environment
            raise RE2Error("invalid UTF-8", self.s[self.i - 1:])
        return Lit(c, f.fold)

    def _repeat(self, items: list, lo: int, hi: int, start: int, last_repeat: int) -> None:
        greedy = not self.flags.nongreedy
        if self.i < len(self.s) and self.s[self.i] == "?":
            self.i += 1
            greedy = not greedy
        if last_repeat >= 0:  # a** and a*+ are errors in Go (possessive in Python)
            raise RE2Error("invalid nested repetition operator", self.s[last_repeat:self.i])
        if not items:
            raise RE2Error("missing argument to repetition operator", self.s[start:self.i])
        node = Repeat(items[-1], lo, hi, greedy)
        if (lo >= 2 or hi >= 2) and not _repeat_ok(node, MAX_REPEAT):
            raise RE2Error("invalid repeat count", self.s[start:self.i])
        items[-1] = node

    def _brace(self):
        """(min, max, end) of a valid `{n}`, `{n,}`, `{n,m}` at self.i; None: `{` is a literal."""
        m = _BRACE.match(self.s, self.i)
        if not m:
            return None
        for digits in (m.group(1), m.group(3) or ""):
            if len(digits) >= 2 and digits[0] == "0":
                return None  # Go: no leading zeros, so the `{` is literal
        lo = int(m.group(1)) if len(m.group(1)) <= 8 else -1
        if m.group(2) is None:
            hi = lo
        elif m.group(3) == "":
            hi = -1
        else:
            hi = int(m.group(3)) if len(m.group(3)) <= 8 else MAX_REPEAT + 1
        return lo, hi, m.end()

    def _group(self):
        s, start = self.s, self.i
        if s.startswith("(?", start):
            rest = s[start:]
            with_p = len(rest) > 4 and rest[2:4] == "P<"
            if with_p or (len(rest) > 3 and rest[2] == "<"):
                begin = start + (4 if with_p else 3)
                end = s.find(">", start)
                if end < 0:
                    raise RE2Error("invalid named capture", s[start:])
                name = s[begin:end]
                if not name or not all(ch == "_" or (ch.isascii() and ch.isalnum()) for ch in name):
                    raise RE2Error("invalid named capture", s[start:end + 1])
                self.i = end + 1
                return self._group_body(start)
            return self._flags(start)
        self.i += 1
        return self._group_body(start)

    def _group_body(self, start: int) -> Group:
        group = self._alternation()
        if self.i >= len(self.s):
            raise RE2Error("missing closing )", self.s)
        self.i += 1  # ')'
        return group

    def _flags(self, start: int):
        """`(?flags)` (changes flags until the group ends) or `(?flags:re)`."""
        s = self.s
        i = start + 2
        flags = self.flags.copy()
        negate = saw = False
        while i < len(s):
            c = s[i]
            i += 1
            if c in "imsU":
                value = not negate
                if c == "i":
                    flags.fold = value
                elif c == "m":
                    flags.oneline = not value
                elif c == "s":
                    flags.dotnl = value
                else:
                    flags.nongreedy = value
                saw = True
            elif c == "-" and not negate:
                negate, saw = True, False
            elif c in ":)" and not (negate and not saw):
                self.i = i
                if c == ")":
                    self.flags = flags
                    return None
                outer, self.flags = self.flags, flags
                group = self._alternation()
                self.flags = outer
                if self.i >= len(s):
                    raise RE2Error("missing closing )", s)
                self.i += 1
                return group
            else:
                break
        raise RE2Error("invalid or unsupported Perl syntax", s[start:i])

    # ---- escapes and classes ---------------------------------------------------------------

    def _escape(self) -> list:
        s, i, f = self.s, self.i, self.flags
        nxt = s[i + 1] if i + 1 < len(s) else ""
        simple = {"A": r"\A", "z": r"\Z", "b": _BOUNDARY, "B": _NO_BOUNDARY}
        if nxt in simple:
            self.i += 2
            return [Anchor(simple[nxt])]
        if nxt == "C":
            raise RE2Error("invalid escape sequence", s[i:i + 2])
        if nxt == "Q":
            end = s.find(r"\E", i + 2)
            text = s[i + 2:] if end < 0 else s[i + 2:end]
            self.i = len(s) if end < 0 else end + 2
            return [Lit(ch, f.fold) for ch in text]
        if nxt in ("p", "P"):
            raise _unicode_class(s, i)
        if nxt.lower() in PERL:
            self.i += 2
            return [Cls(PERL[nxt.lower()], nxt.isupper(), f.fold)]
        char, self.i = _escaped_char(s, i)
        return [Lit(char, f.fold)]

    def _class(self) -> Cls:
        s, start = self.s, self.i
        i = start + 1
        negate = i < len(s) and s[i] == "^"
        if negate:
            i += 1
        ranges: list = []
        first = True
        while i >= len(s) or s[i] != "]" or first:
            if i >= len(s):
                raise RE2Error("missing closing ]", s[start:])
            first = False
            if s.startswith("[:", i):
                end = s.find(":]", i + 2)
                if end >= 0:
                    name = s[i + 2:end]
                    negated = name.startswith("^")
                    group = POSIX.get(name[1:] if negated else name)
                    if group is None:
                        raise RE2Error("invalid character class range", s[i:end + 2])
                    ranges += _negated(group) if negated else group
                    i = end + 2
                    continue
            if s[i] == "\\" and i + 1 < len(s) and s[i + 1] in ("p", "P"):
                raise _unicode_class(s, i)
            if s[i] == "\\" and i + 1 < len(s) and s[i + 1].lower() in PERL:
                group = PERL[s[i + 1].lower()]
                ranges += _negated(group) if s[i + 1].isupper() else group
                i += 2
                continue
            range_start = i
            lo, i = self._class_char(i, start)
            hi = lo
            if i + 1 < len(s) and s[i] == "-" and s[i + 1] != "]":
                hi, i = self._class_char(i + 1, start)
                if ord(hi) < ord(lo):
                    raise RE2Error("invalid character class range", s[range_start:i])
            ranges.append((ord(lo), ord(hi)))
        self.i = i + 1
        return Cls(ranges, negate, self.flags.fold)

    def _class_char(self, i: int, start: int) -> tuple[str, int]:
        if i >= len(self.s):
            raise RE2Error("missing closing ]", self.s[start:])
        if self.s[i] == "\\":
            return _escaped_char(self.s, i)
        return self.s[i], i + 1


def _escaped_char(s: str, i: int) -> tuple[str, int]:
    """Go's parseEscape at s[i] == '\\': (character, index after it)."""
    if i + 1 >= len(s):
        raise RE2Error("trailing backslash at end of expression", "")
    c = s[i + 1]
    j = i + 2
    if c.isascii() and not c.isalnum():
        return c, j
    if c in "01234567" and (c == "0" or (j < len(s) and s[j] in "01234567")):
        value, n = int(c), 1
        while n < 3 and j < len(s) and s[j] in "01234567":
            value, j, n = value * 8 + int(s[j]), j + 1, n + 1
        return chr(value), j
    if c == "x" and j < len(s):
        if s[j] == "{":  # \x{10FFFF}: at least one hex digit, nothing else
            k, value = j + 1, 0
            while k < len(s) and s[k] in _HEX:
                value = value * 16 + int(s[k], 16)
                k += 1
                if value > 0x10FFFF:
                    raise RE2Error("invalid escape sequence", s[i:k])
            if k < len(s) and s[k] == "}" and k > j + 1:
                return chr(value), k + 1
            raise RE2Error("invalid escape sequence", s[i:k + 1])
        pair = s[j:j + 2]
        if len(pair) == 2 and all(ch in _HEX for ch in pair):
            return chr(int(pair, 16)), j + 2
        raise RE2Error("invalid escape sequence", s[i:j + 2])
    controls = {"a": "\a", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
    if c in controls:
        return controls[c], j
    raise RE2Error("invalid escape sequence", s[i:j])


def _unicode_class(s: str, i: int) -> RE2Error:
    m = re.compile(r"\\[pP](\{[^}]*\}?|.?)").match(s, i)
    err = RE2Error("invalid character class range", m.group(0))
    err.args = (f"Unicode character classes such as {m.group(0)} are not supported by cmp-render;"
                " spell the characters out (paths are ASCII)",)
    return err


def _negated(ranges: list) -> list:
    out, lo = [], 0
    for a, b in sorted(ranges):
        if a > lo:
            out.append((lo, a - 1))
        lo = max(lo, b + 1)
    if lo <= 0x10FFFF:
        out.append((lo, 0x10FFFF))
    return out


def _repeat_ok(node, n: int) -> bool:
    """Go's repeatIsValid: nested repetitions multiply to at most 1000 copies."""
    if isinstance(node, Repeat):
        m = node.max if node.max >= 0 else node.min
        if node.max == 0:
            return True
        if m > n:
            return False
        if m > 0:
            n //= m
        return _repeat_ok(node.node, n)
    if isinstance(node, Group):
        return all(_repeat_ok(child, n) for alt in node.alternatives for child in alt)
    return True


# ---- writing Python syntax -----------------------------------------------------------------

def _char(code: int) -> str:
    ch = chr(code)
    if ch.isascii() and (ch.isalnum() or ch == "_"):
        return ch
    return f"\\x{code:02x}" if code <= 0xFF else (f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")


def _emit(node) -> str:
    if isinstance(node, Lit):
        text = _char(ord(node.char))
        return f"(?i:{text})" if node.fold and node.char.lower() != node.char.upper() else text
    if isinstance(node, Cls):
        body = "".join(_char(a) if a == b else f"{_char(a)}-{_char(b)}" for a, b in node.ranges)
        if not body:  # an empty class matches nothing; its negation everything
            return r"[\s\S]" if node.negate else "(?!)"
        text = f"[{'^' if node.negate else ''}{body}]"
        return f"(?i:{text})" if node.fold else text
    if isinstance(node, Any):
        return r"[\s\S]" if node.dotnl else r"[^\n]"
    if isinstance(node, Anchor):
        return node.python
    if isinstance(node, Group):
        return "(?:" + "|".join("".join(_emit(n) for n in alt) for alt in node.alternatives) + ")"
    if isinstance(node, Repeat):
        if node.max < 0:
            op = {0: "*", 1: "+"}.get(node.min, f"{{{node.min},}}")
        elif node.min == node.max:
            op = f"{{{node.min}}}"
        else:
            op = "?" if (node.min, node.max) == (0, 1) else f"{{{node.min},{node.max}}}"
        return f"(?:{_emit(node.node)}){op}{'' if node.greedy else '?'}"
    raise TypeError(node)


def translate(pattern: str) -> str:
    """The Python regular expression that matches what Go's would; RE2Error when Go refuses it."""
    return _emit(_Parser(pattern).parse())


def compile(pattern: str) -> re.Pattern:  # noqa: A001 - mirrors re.compile
    return re.compile(translate(pattern))
