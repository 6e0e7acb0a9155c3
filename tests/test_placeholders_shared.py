"""One placeholder grammar (secrets.grammar) for validation, the check stage and the resolver."""

from __future__ import annotations

import re

import pytest

from cmp_plugin.check import check
from cmp_plugin.pipeline import validate_text
from cmp_plugin.secrets import grammar
from cmp_plugin.settings import load_settings
from cmp_plugin.validate.schema import schema

SAMPLES = ["plain", "<path:kv/data/p/x#k>", "< path:kv/data/p/x#k>", "a <path:open", "<x path:a#b>",
           "path:a#b", "<pathx:a#b>", "x < path:y", "<p>", "<  path:kv#k | base64encode>"]


def _patterns(node):
    if isinstance(node, dict):
        if isinstance(node.get("pattern"), str):
            yield node["pattern"]
        for value in node.values():
            yield from _patterns(value)
    elif isinstance(node, list):
        for value in node:
            yield from _patterns(value)


def test_the_schema_refuses_placeholders_with_the_grammar_s_opening():
    refusing = [p for p in _patterns(schema()) if "path:" in p]
    assert len(refusing) == 3
    assert all(f"(?!{grammar.OPEN})" in p for p in refusing)


@pytest.mark.parametrize("text", SAMPLES)
def test_schema_and_grammar_agree_on_what_holds_a_placeholder(text):
    pattern = schema()["definitions"]["command"]["items"]["pattern"]
    assert (re.search(pattern, text) is None) == grammar.has_placeholder(text, False)


def test_validation_refuses_a_spaced_placeholder_in_env():
    text = "applications:\n  - name: web\n    image: 'nginx:1'\n    env: {A: '< path:kv/data/p/x#k>'}\n"
    found = validate_text(text, "p.yaml", settings=load_settings(env={}))
    assert [(p.path, p.message) for p in found] == [(
        "applications[0].env.A", "'< path:kv/data/p/x#k>' must not contain a '<path:' Vault placeholder: "
                                 "list the variable under `secrets` instead")]


def _doc(kind: str, data: dict) -> dict:
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": "s", "namespace": "p"}, "stringData": data}


def test_check_finds_what_the_resolver_would_read():
    messages = [p.message for p in check([_doc("ConfigMap", {"a": "< path:kv/data/p/x#k>"})],
                                         vault_prefix="kv/data/p", resolved=False)]
    assert messages == ["check: ConfigMap 's' stringData.a: Vault placeholders are only allowed in Secret objects"
                        " (the values of data and stringData)"]
    messages = [p.message for p in check([_doc("Secret", {"a": "<\tpath:kv/data/other/x#k | base64encode>"})],
                                         vault_prefix="kv/data/p", resolved=False)]
    assert messages == ["check: Secret 's' stringData.a: Vault path 'kv/data/other/x' is outside the project's "
                        "prefix 'kv/data/p'/"]
    assert check([_doc("Secret", {"a": "<path:kv/data/p/x#k>", "b": "path: x"})],
                 vault_prefix="kv/data/p", resolved=False) == []


def test_vault_paths_are_those_of_complete_inline_placeholders():
    assert grammar.vault_paths("a <path:kv/a#k> b < path:kv/b#k#2> <path:kv/c> <k>") == ["kv/a", "kv/b"]
    assert grammar.vault_paths("no placeholder") == []
