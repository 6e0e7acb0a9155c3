"""Placeholder syntax and the fail-closed scan (no Vault needed)."""

from __future__ import annotations

import pytest

from cmp_plugin.secrets import find_placeholders
from cmp_plugin.secrets.grammar import scan
from vault_docs import b64, secret


@pytest.mark.parametrize("text, generic, expected", [
    # (kind, name, path, key, version, stages)
    ("<path:kv/data/a#k>", False, [("inline", "path:kv/data/a#k", "kv/data/a", "k", "", ())]),
    ("<path:kv/data/a#k#3>", False, [("inline", "path:kv/data/a#k#3", "kv/data/a", "k", "3", ())]),
    ("x <path:kv/data/a#k> y <path:kv/data/b#j> z", False,
     [("inline", "path:kv/data/a#k", "kv/data/a", "k", "", ()), ("inline", "path:kv/data/b#j", "kv/data/b", "j", "", ())]),
    ("<path:kv/data/a#k | base64encode>", False,
     [("inline", "path:kv/data/a#k", "kv/data/a", "k", "", (" base64encode",))]),
    ("<path:kv/data/a#k#2 | jsonPath {.a} | sha256sum>", False,
     [("inline", "path:kv/data/a#k#2", "kv/data/a", "k", "2", (" jsonPath {.a} ", " sha256sum"))]),
    ("< path:kv/data/a# spaced key >", False, [("inline", "path:kv/data/a# spaced key", "kv/data/a", "spaced key", "", ())]),
    # modifier arguments may hold # and < (AVP cannot): the first > on the line ends the placeholder
    ("<path:kv/data/a#k | jsonPath {.x#y}>", False, [("inline", "path:kv/data/a#k", "kv/data/a", "k", "", (" jsonPath {.x#y}",))]),
    ("<path:kv/data/a#k | jsonPath {.items[?(@.n<3)]}>", False,
     [("inline", "path:kv/data/a#k", "kv/data/a", "k", "", (" jsonPath {.items[?(@.n<3)]}",))]),
    # generic placeholders only with the annotation; then, as in AVP, every <...> on one line is
    # one, its key trimmed of spaces (not tabs): nothing between < and > passes through unresolved
    ("<password>", False, []),
    ("a < b > c", False, []),
    ("<password>", True, [("generic", "password", "", "password", "", ())]),
    ("<password | base64encode>", True, [("generic", "password", "", "password", "", (" base64encode",))]),
    ("<db.pass-1_x >", True, [("generic", "db.pass-1_x", "", "db.pass-1_x", "", ())]),
    ("<  key >", True, [("generic", "key", "", "key", "", ())]),
    ("< key | base64encode >", True, [("generic", "key", "", "key", "", (" base64encode ",))]),
    ("<  data |jsonPath  {.a}|  jsonParse >", True,
     [("generic", "data", "", "data", "", ("jsonPath  {.a}", "  jsonParse "))]),
    ("a < b > c", True, [("generic", "b", "", "b", "", ())]),
    ("<my key>", True, [("generic", "my key", "", "my key", "", ())]),
    ("<br/>", True, [("generic", "br/", "", "br/", "", ())]),
    ("<>", True, [("generic", "", "", "", "", ())]),
    ("<\tk>", True, [("generic", "\tk", "", "\tk", "", ())]),
    ("<<k>>", True, [("generic", "k", "", "k", "", ())]),
    ("if a<b and c>d", True, [("generic", "b and c", "", "b and c", "", ())]),
    ("<p>\n</p>", True, [("generic", "p", "", "p", "", ()), ("generic", "/p", "", "/p", "", ())]),
    ("<key\n>", True, []),
    # `< path:...>` is inline in an annotated document, as in AVP
    ("< path:kv/data/a#k >", True, [("inline", "path:kv/data/a#k", "kv/data/a", "k", "", ())]),
])
def test_scan(text, generic, expected):
    got = [(t.kind, t.name, t.path, t.key, t.version, t.stages) for t in scan(text, generic)]
    assert got == expected


@pytest.mark.parametrize("text, why", [
    ("<path:kv/data/a>", "expected <path:PATH#KEY>"),
    ("<path:kv/data/a#>", "expected <path:PATH#KEY>"),
    ("<path:kv/data/a#k#>", "expected <path:PATH#KEY>"),
    ("<path:#k>", "expected <path:PATH#KEY>"),
    ("<path:kv/data/a#k", "no closing >"),
    ("<path:kv/data/a#k\n>", "no closing >"),
])
def test_malformed_inline_is_reported_not_skipped(text, why):
    (token,) = scan(text, False)
    assert token.kind == "malformed"
    assert why in token.error


def test_text_before_path_is_malformed_in_annotated_documents():
    # AVP would read <x path:P#K> as an inline placeholder; here it is an error, never passed through
    (token,) = scan("<x path:kv/data/a#k>", True)
    assert token.kind == "malformed" and "text before path:" in token.error


def test_placeholders_never_span_lines():
    assert [t.name for t in scan("<path:kv/data/a#k>\n<path:kv/data/b#j>", False)] == \
        ["path:kv/data/a#k", "path:kv/data/b#j"]


def test_find_placeholders_everywhere():
    docs = [
        secret("plain", string_data={"a": "<path:kv/data/shop/x#a>", "b": "no placeholder"}),
        secret("encoded", data={"c": b64("user=<path:kv/data/shop/x#c>")}),
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
         "spec": {"args": [["nested", "<path:kv/data/shop/x#n>"]], "env": {"<path:kv/data/shop/x#k>": "v"}}},
        secret("generic", string_data={"d": "<password>", "e": "a < b > c"},
               annotations={"avp.kubernetes.io/path": "kv/data/shop/x"}),
        secret("no-annotation", string_data={"f": "<password>"}),
        secret("ignored", string_data={"g": "<path:kv/data/shop/x#g>", "h": "<password>"},
               annotations={"avp.kubernetes.io/ignore": "true", "avp.kubernetes.io/path": "kv/data/shop/x"}),
        secret("broken", string_data={"i": "<path:kv/data/shop/x"}),
    ]
    assert find_placeholders(docs) == [
        ("Secret/plain stringData.a", "<path:kv/data/shop/x#a>"),
        ("Secret/encoded data.c (base64-decoded)", "<path:kv/data/shop/x#c>"),
        ("Deployment/web spec.args[0][1]", "<path:kv/data/shop/x#n>"),
        ("Deployment/web spec.env['<path:kv/data/shop/x#k>'] (map key)", "<path:kv/data/shop/x#k>"),
        ("Secret/generic stringData.d", "<password>"),
        ("Secret/generic stringData.e", "< b >"),
        ("Secret/ignored stringData.g", "<path:kv/data/shop/x#g>"),
        ("Secret/broken stringData.i", "<path:kv/data/shop/x"),
    ]


def test_find_placeholders_on_clean_documents_is_empty():
    docs = [secret("a", string_data={"x": "plain <b>text</b>", "y": "a < b > c"}), None,
            {"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"html": "<p>hello</p>"}}]
    assert find_placeholders(docs) == []
