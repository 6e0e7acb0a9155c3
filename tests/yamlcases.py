"""YAML cases shared by the tests of fastyaml (tests/render/test_fast_yaml.py) and of the load stage."""

from __future__ import annotations


def same(a, b) -> bool:
    """Equal, and of the same types all the way down (1 == True == 1.0 in Python)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(k1, k2) for k1, k2 in zip(a, b)) \
            and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b



# Lines of YAML, valid and not, in the subset and not: generated files combine them at random indents.
FRAGMENTS = [
    "a:", "a: 1", "a: x", "a: \"x\"", "a: 'x''y'", "a: x # c", "a: x#y", "a:x", "a : x", "? a", ": a", "a: -",
    "- x", "-", "- a: 1", "- - x", "-x", "- [x, y]", "- {a: b}", "- \"q\"", "- 'q'", "- |",
    "a: [x, y]", "a: [x,y]", "a: [x, ]", "a: {b: c}", "a: {\"b\": 1}", "a: {\"b\":1}", "a: [\"x\", {\"k\": [1, 2]}]",
    "a: [x", "a: {b: c", "a: [a b]", "a: [a: b]", "a: |", "a: |-", "a: >", "a: |2", "text", "  text", "# c", "",
    "---", "--- x", "...", "%YAML 1.1", "a: \"q\\u0041\"", "a: \"\\x41\"", "a: \"\\ud800\"", "a: \"\\U0001F600\"",
    "a: \"x\" y", "a: yes", "a: 0x1F", "a: 1.5", "a: ~", "a: null", "a: 2001-12-14", "a: <<", "<<: x", "a: =",
    "\"a\": b", "\"a\":", "\"a b\": c", "a: &x 1", "a: *x", "a: !!str 1", "a: @x", "a: `x`", "a: %x", "a:  x  ",
    "a: x:", "a: x: y", "a:\tx", "a: \"\t\"", "1: x", "true: x", "null: x", "a: \u00e9", "\u00e9: x",
    "a: ''", "a: \"\"", "a: [\"\"]", "a: {}", "a: []", "a: [[]]", "a: {\"a\": {}}", "a: [1, -2, true, null]",
]
