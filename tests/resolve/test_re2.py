"""AVP_PATH_VALIDATION is a Go regular expression: accepted, refused and matched as Go's regexp does.

The expectations are Go's (regexp/syntax with Perl flags, as regexp.Compile), including its
error texts; the comments say where Python's `re` would differ if the pattern were used as is.
"""

from __future__ import annotations

import pytest

from cmp_plugin.problems import Failure
from cmp_plugin.secrets import re2
from cmp_plugin.secrets.config import load_rules


@pytest.mark.parametrize("pattern, error", [
    (r"^\/(?!\/)(.*?)", "invalid or unsupported Perl syntax: `(?!`"),  # AVP's own test
    (r"(?=x)", "invalid or unsupported Perl syntax: `(?=`"),
    (r"(?<=a)b", "invalid named capture: `(?<=a)b`"),  # Go 1.22 reads (?< as a named group
    (r"(?<!a)b", "invalid named capture: `(?<!a)b`"),
    (r"(a)\1", "invalid escape sequence: `\\1`"),  # no back-references
    (r"(?P<n>a)(?P=n)", "invalid or unsupported Perl syntax: `(?P`"),
    (r"a**", "invalid nested repetition operator: `**`"),
    (r"a*+", "invalid nested repetition operator: `*+`"),  # possessive in Python 3.11
    (r"a*?+", "invalid nested repetition operator: `*?+`"),
    (r"a{2}{3}", "invalid nested repetition operator: `{2}{3}`"),
    (r"*a", "missing argument to repetition operator: `*`"),
    (r"(|*)", "missing argument to repetition operator: `*`"),
    (r"a{1001}", "invalid repeat count: `{1001}`"),
    (r"a{2,1}", "invalid repeat count: `{2,1}`"),
    (r"(a{500}){3}", "invalid repeat count: `{3}`"),
    (r"a\Z", "invalid escape sequence: `\\Z`"),  # Python's \Z, not Go's
    (r"\C", "invalid escape sequence: `\\C`"),
    (r"\8", "invalid escape sequence: `\\8`"),
    (r"\x{110000}", "invalid escape sequence: `\\x{110000`"),
    (r"[z-a]", "invalid character class range: `z-a`"),
    (r"[[:foo:]]", "invalid character class range: `[:foo:]`"),
    (r"[a", "missing closing ]: `[a`"),
    (r"(a", "missing closing ): `(a`"),
    (r"a)", "unexpected ): `a)`"),
    ("a\\", "trailing backslash at end of expression: ``"),
    (r"(?x)a", "invalid or unsupported Perl syntax: `(?x`"),
    (r"(?i-)a", "invalid or unsupported Perl syntax: `(?i-)`"),
    (r"(?P<1-x>a)", "invalid named capture: `(?P<1-x>`"),
])
def test_refused_as_go_refuses(pattern, error):
    with pytest.raises(re2.RE2Error) as info:
        re2.translate(pattern)
    assert str(info.value) == f"error parsing regexp: {error}"


def test_unicode_classes_are_refused_with_a_reason():
    for pattern in (r"\pL", r"\p{Greek}", r"[\PN]"):
        with pytest.raises(re2.RE2Error, match="not supported by cmp-render"):
            re2.translate(pattern)


@pytest.mark.parametrize("pattern, matches, rejects", [
    (r"^kv/data/[[:alpha:]]+\z", ["kv/data/shop"], ["kv/data/shop1", "kv/data/shop\n"]),
    (r"^kv/data/shop$", ["kv/data/shop"], ["kv/data/shop\n"]),  # Go's $ is the end of the text
    (r"(?m)^shop$", ["a\nshop\nb"], ["a\nshopx"]),
    (r"^([A-Za-z/]*)$", ["path/to/secret"], ["../blah/blah"]),  # AVP's own test pattern
    (r"[[:^digit:]]", ["a"], ["123"]),
    (r"\d+", ["42"], ["٤٢"]),  # Go's \d is ASCII; Python's matches Arabic-Indic digits
    (r"^\w+$", ["a_b9"], ["é"]),
    (r"\bdb\b", ["kv/db/x"], ["kv/dbx"]),
    (r"^\s$", ["\t"], ["\v"]),  # Go's \s has no \v
    (r"x{,3}", ["x{,3}"], ["xxx"]),  # literal text in Go, a repetition in Python
    (r"(?i)SHOP", ["kv/shop"], ["kv/shap"]),
    (r"a(?i)b|c", ["aB", "C"], ["Ab"]),  # a flag set mid-group reaches the later alternatives
    (r"(?i:a)b", ["Ab"], ["AB"]),
    (r"(?s)a.b", ["a\nb"], []),
    (r"a.b", ["axb"], ["a\nb"]),
    (r"\Qa.b\E", ["a.b"], ["axb"]),
    (r"[]a]", ["]"], ["b"]),
    (r"\x41\x{42}\101", ["ABA"], ["AB"]),
    (r"^*x", ["x"], []),  # an empty-width assertion may repeat in Go (an error in Python)
    (r"(?P<name>kv)|(?<other>secret)", ["secret/x"], ["other"]),
])
def test_matches_as_go_does(pattern, matches, rejects):
    compiled = re2.compile(pattern)
    for text in matches:
        assert compiled.search(text), (pattern, text)
    for text in rejects:
        assert not compiled.search(text), (pattern, text)


def test_ungreedy_flag_swaps_greediness():
    assert re2.compile(r"(?U)a+").match("aaa").group() == "a"
    assert re2.compile(r"(?U)a+?").match("aaa").group() == "aaa"
    assert re2.compile(r"a+?").match("aaa").group() == "a"


def test_avp_wording_for_a_bad_setting():
    with pytest.raises(Failure) as info:
        load_rules({"AVP_PATH_VALIDATION": r"^\/(?!\/)(.*?)"})
    assert str(info.value) == ("error: AVP_PATH_VALIDATION: ^\\/(?!\\/)(.*?) is not a valid regular expression:"
                               " error parsing regexp: invalid or unsupported Perl syntax: `(?!`")
