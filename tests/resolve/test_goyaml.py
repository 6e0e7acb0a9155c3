"""Manifests read and printed as argocd-vault-plugin does (sigs.k8s.io/yaml over go-yaml v2).

AVP's own fixtures (tests/avp) check whole documents byte for byte; these check the rules one
at a time, each where PyYAML's defaults would differ.
"""

from __future__ import annotations

import pytest

from cmp_plugin.resolve.goyaml import ManifestError, dump_document, load_documents


def load_one(text: str):
    ((doc, _line),) = load_documents(text)
    return doc


@pytest.mark.parametrize("text, value", [
    ("08", 8.0),  # go-yaml: a float; PyYAML: the string "08"
    ("0x1F", 31),
    ("1e3", 1000.0),  # PyYAML: a string
    ("1_000", 1000),
    ("y", True),  # YAML 1.1 booleans as go-yaml knows them (PyYAML: "y" is text)
    ("off", False),
    ("1:30", "1:30"),  # PyYAML: the sexagesimal 90
    ("2001-12-14", "2001-12-14"),  # PyYAML: a date; go-yaml keeps timestamps as text
    ("~", None),
    (".5", 0.5),
    ("'5'", "5"),
    ("!!str 5", "5"),
    ("!!float 5", 5.0),
    ("1.0.0", "1.0.0"),
    ("=", "="),
])
def test_scalars_resolve_as_go_yaml(text, value):
    assert load_one(f"v: {text}\n") == {"v": value}


def test_map_keys_become_text():
    assert load_one("1: a\ntrue: b\nn: c\n") == {"1": "a", "true": "b", "false": "c"}


def test_json_streams_and_empty_documents():
    assert [d for d, _ in load_documents('{"kind": "A", "n": 1.0}\n{"kind": "B"}')] == [
        {"kind": "A", "n": 1.0}, {"kind": "B"}]
    assert [d for d, _ in load_documents("---\n# nothing\n---\nkind: A\n---\n{}\n---\n")] == [{"kind": "A"}]


def test_merge_keys_and_aliases():
    doc = load_one("base: &b {x: 1, z: 2}\nuse:\n  <<: *b\n  z: 3\n")
    assert doc["use"] == {"x": 1, "z": 3}


def test_alias_bombs_are_refused():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)},"
        f" *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8))
    with pytest.raises(ManifestError, match="alias bomb"):
        load_documents(bomb)


def test_syntax_errors_have_a_position_and_no_content():
    with pytest.raises(ManifestError) as info:
        load_documents("a:\n  b: 1\n     c: secret-looking\n")
    assert (info.value.line, str(info.value)) == (3, "error converting YAML to JSON: yaml: mapping values are not"
                                                     " allowed in this context")


def test_printing():
    doc = {"kind": "X", "b10": 1, "b9": 2, "a": ["x", {"k": "v"}], "t": "true", "n": "5", "e": "", "d": "2001-12-14",
           "s": "line 1\nline 2\n", "f": 1.5, "i": 2.0, "tiny": 1e-07, "empty": {}, "null": None, "colon": "a: b"}
    assert dump_document(doc) == (
        "a:\n"
        "- x\n"
        "- k: v\n"
        "b9: 2\n"
        "b10: 1\n"  # go-yaml's natural order: digit runs compare by value
        "colon: 'a: b'\n"
        'd: "2001-12-14"\n'
        'e: ""\n'
        "empty: {}\n"
        "f: 1.5\n"
        "i: 2\n"  # through JSON, 2.0 is the integer 2
        "kind: X\n"
        '"n": "5"\n'  # go-yaml quotes the key n: it would read back as false
        "\"null\": null\n"
        "s: |\n"
        "  line 1\n"
        "  line 2\n"
        't: "true"\n'
        "tiny: 1e-07\n"
        "---\n")


def test_long_strings_fold_at_80_columns_and_shared_values_are_repeated():
    shared = {"v": "x"}
    text = dump_document({"kind": "X", "long": " ".join(["word"] * 30), "a": shared, "b": shared})
    assert "&" not in text and "*" not in text
    assert "long: word word" in text and "\n  word" in text
