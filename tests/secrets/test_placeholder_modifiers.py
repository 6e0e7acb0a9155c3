"""The seven modifiers, Go-compatible printing, and the AVP quirks we fix (no Vault needed)."""

from __future__ import annotations

import hashlib

import pytest

from cmp_plugin.secrets import modifiers
from cmp_plugin.secrets.values import JsonNumber, go_float, json_float, loads_vault
from vault_docs import fail, secret


def run_chain(stages: list[str], value):
    for text in stages:
        value = modifiers.apply(modifiers.check(text), value)
    return value


@pytest.mark.parametrize("stages, value, expected", [
    (["base64encode"], "s3cret", "czNjcmV0"),
    (["base64encode"], "", ""),
    (["base64decode"], "czNjcmV0", "s3cret"),
    (["base64decode"], "czNj\ncmV0", "s3cret"),  # Go's decoder skips newlines
    (["base64encode", "base64decode"], "ünïcode", "ünïcode"),
    (["sha256sum"], "abc", hashlib.sha256(b"abc").hexdigest()),
    (["jsonParse"], '{"a": [1, "x"], "b": true}', {"a": [1.0, "x"], "b": True}),
    (["jsonParse"], "3", 3.0),
    (["jsonParse"], '"text"', "text"),
    (["yamlParse"], "a: 1\nb: [x, true]\n", {"a": 1.0, "b": ["x", True]}),
    (["yamlParse"], "2: two\ntrue: yes\n", {"2": "two", "true": True}),  # keys via JSON, YAML 1.1 booleans
    (["jsonPath {.a.b}"], '{"a": {"b": "deep"}}', "deep"),
    (["jsonPath {.a}"], '{"a": {"z": 1, "b": [true, null]}}', '{"b":[true,null],"z":1}'),
    (["jsonPath {.n}"], '{"n": 1000000}', "1e+06"),  # numbers from a JSON string are float64
    (["jsonPath {.n}"], '{"n": 2.5}', "2.5"),
    (["jsonPath {.a}{'-'}{.b}"], '{"a": "x", "b": "y"}', "x-y"),
    (["jsonPath {.list[*].name}"], '{"list": [{"name": "a"}, {"name": "b"}]}', "a b"),
    (["jsonPath {range .list[*]}{.name}:{.v},{end}"], '{"list": [{"name": "a", "v": 1}, {"name": "b", "v": 2}]}',
     "a:1,b:2,"),
    (["jsonPath {['a.b']}"], '{"a.b": "dotted"}', "dotted"),
    (["jsonPath {.a\\.b}"], '{"a.b": "dotted"}', "dotted"),
    (["jsonPath {.l[0]}"], '{"l": ["first", "second"]}', "first"),
    (["jsonPath {.l[-1]}"], '{"l": ["first", "second"]}', "second"),
    (["jsonPath {.l[0:2]}"], '{"l": [1, 2, 3]}', "1 2"),
    (["jsonPath {.l[?(@.k==\"b\")].v}"], '{"l": [{"k": "a", "v": 1}, {"k": "b", "v": 2}]}', "2"),
    (["jsonPath {..v}"], '{"x": {"v": 1}, "y": [{"v": 2}]}', "1 2"),
    (["jsonPath {.h}"], '{"h": "<b>&"}', "<b>&"),  # scalars print as text
    (["jsonPath {.h}"], '{"h": {"k": "<b>&"}}', '{"k":"\\u003cb\\u003e\\u0026"}'),  # maps as Go JSON
    # jsonPath also takes typed input; Vault's numbers keep their text
    (["jsonPath {.n}"], {"n": JsonNumber("1000000")}, "1000000"),
    (["jsonPath {.m}"], {"m": {"n": JsonNumber("1.50")}}, '{"n":1.50}'),
    (["jsonParse", "jsonPath {.a}"], '{"a": "x"}', "x"),
    (["yamlParse", "jsonPath {.a.b}"], "a:\n  b: 7\n", "7"),
    # indent: later non-empty lines get N spaces; own indentation and blank lines are kept
    (["indent 4"], "line1\nline2", "line1\n    line2"),
    (["indent 2"], "a\n  nested\n\nb\n", "a\n    nested\n\n  b\n"),
    (["indent 0"], "a\n b", "a\n b"),
    (["indent 4"], "single", "single"),
])
def test_modifier(stages, value, expected):
    assert run_chain(stages, value) == expected


@pytest.mark.parametrize("stage, value, message", [
    ("base64encode extra", "x", "invalid parameters"),
    ("base64decode", "not base64!", "invalid base64 input"),  # AVP silently returns partial output
    ("base64decode", "czNjcmV0=", "invalid base64 input"),
    ("base64decode", "/w==", "decoded value is not UTF-8 text"),
    ("base64encode", {"a": 1}, "invalid datatype map[string]interface {}"),
    ("base64decode", JsonNumber("3"), "invalid datatype json.Number"),
    ("sha256sum", True, "invalid datatype bool, expected string"),
    ("jsonParse", 3.0, "invalid datatype float64"),
    ("jsonParse", "{bad", "invalid JSON: Expecting property name enclosed in double quotes at line 1 column 2"),
    ("yamlParse", "a: [b", "invalid YAML at line"),
    ("yamlParse", ["x"], "invalid datatype []interface {}"),
    ("jsonPath", "{}", "invalid parameters"),
    ("jsonPath {.missing}", '{"a": 1}', "missing is not found"),
    ("jsonPath {.a[3]}", '{"a": [1]}', "array index out of bounds: index 3, length 1"),
    ("jsonPath {.a}", "not json", "invalid JSON: Expecting value at line 1 column 1"),
    ("jsonPath .a", "{}", "has no {...} action; write {.a}"),
    ("jsonPath {.a", "{}", "unclosed action"),
    ("jsonPath {range .a}", "{}", "unclosed range"),
    ("indent", "x", "invalid parameters"),
    ("indent 1 2", "x", "invalid parameters"),
    ("indent four", "x", "invalid indentation level"),
    ("indent -2", "x", "invalid indentation level"),
    ("indent 2", 7.0, "invalid datatype float64"),
    ("nope", "x", "invalid modifier: nope"),
    ("Base64encode", "x", "invalid modifier: Base64encode"),  # names are case-sensitive
    ("", "x", "invalid modifier: empty modifier stage"),  # AVP crashes on `<k |>`
    ("   ", "x", "invalid modifier: empty modifier stage"),
])
def test_modifier_errors(stage, value, message):
    with pytest.raises(modifiers.ModifierError) as info:
        modifiers.apply(modifiers.check(stage), value)
    assert message in str(info.value)


def test_errors_never_quote_the_value():
    value = '{"password": "hunter2-TOPSECRET" oops}'
    for stage in ("jsonParse", "yamlParse", "jsonPath {.x}", "base64decode"):
        with pytest.raises(modifiers.ModifierError) as info:
            modifiers.apply(modifiers.check(stage), value)
        assert "TOPSECRET" not in str(info.value)
        assert "hunter2" not in str(info.value)


@pytest.mark.parametrize("f, text, as_json", [
    (1000000.0, "1e+06", "1000000"), (123456.0, "123456", "123456"), (1234567.0, "1.234567e+06", "1234567"),
    (0.0001, "0.0001", "0.0001"), (0.00001, "1e-05", "0.00001"), (1e-7, "1e-07", "1e-7"),
    (1e21, "1e+21", "1e+21"), (-2.5, "-2.5", "-2.5"), (3.0, "3", "3"), (0.1, "0.1", "0.1"),
])
def test_go_number_printing(f, text, as_json):
    assert go_float(f) == text
    assert json_float(f) == as_json


def test_vault_numbers_keep_their_text():
    body = loads_vault('{"data": {"n": 1.50, "i": 12345678901234567890}}')
    assert body["data"]["n"].text == "1.50"
    assert body["data"]["i"].plain() == 12345678901234567890


# Modifier problems are found before Vault is asked: VAULT_ADDR points nowhere and is never used.
NOWHERE = {"VAULT_ADDR": "http://127.0.0.1:9", "VAULT_TOKEN": "unused"}


@pytest.mark.parametrize("value, message", [
    ("<path:kv/data/shop/a#k |>", "invalid modifier: empty modifier stage for placeholder path:kv/data/shop/a#k"
                                  " in string f: <path:kv/data/shop/a#k |>"),
    ("<path:kv/data/shop/a#k | | base64encode>", "invalid modifier: empty modifier stage for placeholder"),
    ("<path:kv/data/shop/a#k | frobnicate 3>", "invalid modifier: frobnicate for placeholder path:kv/data/shop/a#k"
                                               " in string f: <path:kv/data/shop/a#k | frobnicate 3>"),
    ("<path:kv/data/shop/a#k | indent>", "indent: invalid parameters for placeholder path:kv/data/shop/a#k"),
    ("<path:kv/data/shop/a#k | jsonPath {.a>", "jsonPath: unclosed action for placeholder"),
])
def test_modifier_problems_are_static(value, message):
    text = fail([secret("s", string_data={"f": value})], NOWHERE)
    assert message in text
    assert "Secret/s: Replace: could not replace all placeholders in Template:" in text
