"""Stage 1 reads a project file in fastyaml's subset without PyYAML, and must end where PyYAML's
reading ends: the same value, the same problems, the same positions (found with PyYAML only when
a problem needs them). Checked on every example and fixture, and on generated YAML-like files."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from cmp_plugin import load
from cmp_plugin.pipeline import validate_text

from cliutil import EXAMPLES, REPO
from yamlcases import FRAGMENTS, same

FILES = sorted(EXAMPLES.glob("*.yaml")) + sorted((REPO / "tests" / "fixtures").glob("*/*.yaml"))


def with_pyyaml(text: str) -> load.Loaded:
    out = load.Loaded("p.yaml")
    load._load_text(text, out)
    return out


def agree(text: str) -> bool:
    """load_bytes gives what PyYAML's reading gives; True when fastyaml read it."""
    fast = load.load_bytes(text.encode("utf-8"), "p.yaml")
    took_fast_path = fast._unplaced is not None
    slow = with_pyyaml(text)
    assert same(fast.value, slow.value)
    assert [p.format() for p in fast.problems] == [p.format() for p in slow.problems]
    assert fast.places == slow.places and fast.key_places == slow.key_places
    assert [p.format() for p in validate_text(text, "p.yaml")] == \
        [p.format() for p in _validate_with_pyyaml(text)]
    return took_fast_path


def _validate_with_pyyaml(text: str):
    from unittest import mock

    with mock.patch.object(load, "_fast_value", return_value=None):
        return validate_text(text, "p.yaml")


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_example_and_fixture_loads_as_pyyaml_loads_it(path):
    agree(path.read_text("utf-8"))


def test_the_examples_take_the_fast_path():
    for path in sorted(EXAMPLES.glob("*.yaml")):
        assert agree(path.read_text("utf-8")), path.name


@pytest.mark.parametrize("text", [
    "applications:\n  - name: a\n  - name: a\n",  # a duplicate value is fine
    "applications: []\napplications: []\n",  # a duplicate key is a problem
    "a:\n  b: 1\n  b: 2\n",
    "a: {b: 1, b: 2}\n",
    "---\na: 1\n",
    "a: 1\n---\n",  # two documents
    "# c\n---\na: 1\n---\n",
    "",
    "# only a comment\n",
    "---\n",
    "a: 2001-12-14\n",  # a timestamp: kept as its text
    "a: {1: x, true: y}\n",  # keys are their text
    "a:\n" + "  - b:\n" * 1 + "      " * 0 + "    c: 1\n",
    "".join(f"{'  ' * i}k{i}:\n" for i in range(70)),  # deeper than MAX_DEPTH
    "a: [" + ", ".join(["x"] * 20_001) + "]\n",  # more values than MAX_NODES
])
def test_edges_load_as_pyyaml_loads_them(text):
    agree(text)


@st.composite
def yaml_like(draw):
    lines = draw(st.lists(st.tuples(st.sampled_from([0, 0, 1, 2, 2, 4, 4, 6]), st.sampled_from(FRAGMENTS + [
        "name: web", "name: web", "port: 8080", "applications:", "databases:", "- name: db", "  type: redis",
        "env: {A: b}", "secrets: [A, B]", "hash: ~", "hash:", "k: \"\"", "k: ''"])), min_size=1, max_size=14))
    return "".join(" " * indent + fragment + "\n" for indent, fragment in lines)


@hsettings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=yaml_like())
def test_yaml_like_files_load_as_pyyaml_loads_them(text):
    agree(text)


def test_a_render_of_a_plain_project_does_not_import_pyyaml():
    """Importing PyYAML costs more than a whole render: a file in the subset never loads it."""
    code = ("import sys; from cmp_plugin.pipeline import render_file; "
            f"render_file({str(EXAMPLES / 'seed-example.yaml')!r}, env={{}}); "
            "print(sorted(m for m in ('yaml', 'jsonschema', 'difflib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True,
                         cwd=str(REPO))
    assert out.stdout.strip() == "[]"
