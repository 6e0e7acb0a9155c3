"""Every `CMP_*` variable has one home (settings.FIELDS or settings.KNOBS) and one reader per kind."""

import ast
import re

import pytest

from cliutil import REPO
from cmp_plugin.problems import Failure
from cmp_plugin.settings import FIELDS, KNOBS, debug, knob, knob_value, load_settings, parse_switch

KNOWN = {f.env for f in FIELDS if f.env} | set(KNOBS)


def _sources():
    for path in sorted((REPO / "cmp_plugin").rglob("*.py")):
        yield path, ast.parse(path.read_text())


def test_every_cmp_variable_named_in_the_code_is_a_setting_or_a_knob():
    named = {node.value for _, tree in _sources() for node in ast.walk(tree)
             if isinstance(node, ast.Constant) and isinstance(node.value, str)
             and re.fullmatch(r"CMP_[A-Z0-9_]+", node.value)}
    assert named <= KNOWN, sorted(named - KNOWN)


def test_no_module_reads_a_cmp_variable_behind_the_readers_back():
    """`env.get("CMP_X")`, `env[NAME_ENV]` or `os.getenv(...)` outside settings.py would bypass the kind."""
    sources = list(_sources())
    aliases = {target.id for _, tree in sources for node in ast.walk(tree) if isinstance(node, ast.Assign)
               and isinstance(node.value, ast.Constant) and str(node.value.value).startswith("CMP_")
               for target in node.targets if isinstance(target, ast.Name)}
    offenders = []
    for path, tree in sources:
        if path.name == "settings.py":
            continue
        for node in ast.walk(tree):
            arg = None
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("get", "getenv"):
                arg = node.args[0] if node.args else None
            elif isinstance(node, ast.Subscript) and (isinstance(node.value, ast.Name) and node.value.id == "env"
                                                      or isinstance(node.value, ast.Attribute)
                                                      and node.value.attr == "environ"):
                arg = node.slice
            if (isinstance(arg, ast.Constant) and str(arg.value).startswith("CMP_")
                    or isinstance(arg, ast.Name) and arg.id in aliases):
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not offenders


@pytest.mark.parametrize("text, value", [
    ("true", True), ("TRUE", True), ("Yes", True), ("on", True), ("1", True), (" true ", True),
    ("false", False), ("No", False), ("OFF", False), ("0", False), ("", False),
    ("ture", None), ("t", None), ("2", None), ("enabled", None),
])
def test_one_boolean_rule_for_settings_and_knobs(text, value):
    assert parse_switch(text) is value
    assert knob_value("CMP_BIND_APP_NAME", text)[0] is (value if text.strip() else False)
    env = {"CMP_PUSH_LATEST": text}
    if value is None:
        with pytest.raises(Failure, match="CMP_PUSH_LATEST: expected true or false"):
            load_settings(env)
    else:
        assert load_settings(env).push_latest is value


@pytest.mark.parametrize("name, text, value, problem", [
    ("CMP_TIMEOUT_SECONDS", None, 45.0, ""),
    ("CMP_TIMEOUT_SECONDS", "  ", 45.0, ""),
    ("CMP_TIMEOUT_SECONDS", "2.5", 2.5, ""),
    ("CMP_TIMEOUT_SECONDS", "3600", 3600.0, ""),
    ("CMP_TIMEOUT_SECONDS", "3601", None, "CMP_TIMEOUT_SECONDS='3601': expected seconds above 0 and at most 3600"),
    ("CMP_TIMEOUT_SECONDS", "0", None, "CMP_TIMEOUT_SECONDS='0': expected seconds above 0 and at most 3600"),
    ("CMP_TIMEOUT_SECONDS", "nan", None, "CMP_TIMEOUT_SECONDS='nan': expected seconds"),
    ("CMP_TIMEOUT_SECONDS", "soon", None, "CMP_TIMEOUT_SECONDS='soon': expected seconds"),
    ("CMP_VAULT_TIMEOUT", "55", 55.0, ""),
    ("CMP_VAULT_TIMEOUT", "56", None, "CMP_VAULT_TIMEOUT='56': expected seconds above 0 and at most 55"),
    ("CMP_VAULT_MAX_RESPONSE_BYTES", "4096", 4096, ""),
    ("CMP_VAULT_MAX_RESPONSE_BYTES", "-1", None, "CMP_VAULT_MAX_RESPONSE_BYTES='-1': expected a whole number above 0"),
    ("CMP_VAULT_MAX_RESPONSE_BYTES", "1.5", None, "CMP_VAULT_MAX_RESPONSE_BYTES='1.5': expected a whole number"),
    ("CMP_RESOLVE_PREFIXES", " kv/a , ,kv/b ", ("kv/a", "kv/b"), ""),
    ("CMP_HELM", None, "helm", ""),
    ("CMP_HELM", "/opt/helm", "/opt/helm", ""),
])
def test_knob_kinds(name, text, value, problem):
    assert knob_value(name, text) == (value, problem) or (value is None and knob_value(name, text)[1].startswith(problem))
    if problem:
        with pytest.raises(Failure, match=re.escape(problem)):
            knob({name: text}, name)
    else:
        assert knob({} if text is None else {name: text}, name) == value


def test_a_knob_is_never_taken_from_the_settings_file(tmp_path):
    file = tmp_path / "settings.yaml"
    file.write_text("CMP_TIMEOUT_SECONDS: 1\n")
    with pytest.raises(Failure, match="unknown setting 'CMP_TIMEOUT_SECONDS'"):
        load_settings({}, str(file))


@pytest.mark.parametrize("text, on", [("1", True), ("true", True), ("yes", True), ("", False), ("0", False),
                                      ("anything", False)])
def test_debug_follows_the_boolean_rule_and_never_fails(text, on):
    assert debug({"CMP_DEBUG": text}) is on
