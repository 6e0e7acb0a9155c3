"""Stage 1, load, in-process: what a project file may not be, with its position; and one problem is one line."""

from __future__ import annotations

import os

import pytest

from cmp_plugin.load import load_bytes, load_file
from cmp_plugin.pipeline import validate_text
from cmp_plugin.problems import Problem

from cliutil import run_cli

COLLECTION_TAGS = [
    ("set", "applications: !!set {a, b}\n", 1, 15),
    ("python-object", "applications:\n  - !!python/object/apply:os.system\n    args: [id]\n", 2, 5),
    ("binary-mapping", "databases: !!binary {a: b}\n", 1, 12),
    ("omap", "applications: !!omap [a: 1]\n", 1, 15),
    ("custom-sequence", "applications: !x [1]\n", 1, 15),
    ("root", "!project\napplications: []\n", 1, 1),
]


@pytest.mark.parametrize("name,text,line,col", COLLECTION_TAGS, ids=[c[0] for c in COLLECTION_TAGS])
def test_tags_on_collections_are_refused_with_their_position(name, text, line, col):
    loaded = load_bytes(text.encode(), "p.yaml")
    tagged = [p for p in loaded.problems if "tag" in p.message]
    assert tagged, loaded.problems
    assert (tagged[0].line, tagged[0].col) == (line, col)
    assert tagged[0].format().startswith(f"p.yaml:{line}:{col}: error: ")


def test_standard_tags_still_load():
    loaded = load_bytes(b"applications: !!seq []\ndatabases: !!seq []\n", "p.yaml")
    assert loaded.problems == [] and loaded.value == {"applications": [], "databases": []}


CONTROL_KEYS = ["a\nb", "x\rsrc/p.yaml:1:1: error: forged", "\x1b[2J\x1b[31mred", "k\u2028l", "k\x85l", "k\x00l"]


@pytest.mark.parametrize("key", CONTROL_KEYS)
def test_a_problem_is_always_one_line(key):
    # JSON is YAML: the key carries the control character as an escape the parser decodes
    text = '{"applications": [{"name": "a", ' + f'{__import__("json").dumps(key)}' + ': 1}]}'
    problems = validate_text(text, "p.yaml")
    assert problems
    for problem in problems:
        printed = problem.format()
        assert printed.isprintable() and "\x1b" not in printed, printed


def test_printable_keeps_ordinary_text():
    assert Problem("p.yaml", 1, 2, "a.b[0]", "héllo ✓ 'x'").format() == "p.yaml:1:2: error: a.b[0]: héllo ✓ 'x'"


def test_missing_file_is_one_io_problem(tmp_path):
    loaded = load_file(str(tmp_path / "nope.yaml"), "projects/nope.yaml")
    assert [p.format() for p in loaded.problems] == ["projects/nope.yaml: error: cannot read: No such file or directory"]


def test_directory_and_device_are_not_regular_files(tmp_path):
    for path in (str(tmp_path), os.devnull):
        loaded = load_file(path, "x.yaml")
        assert [p.format() for p in loaded.problems] in (
            ["x.yaml: error: cannot read: not a regular file"], ["x.yaml: error: cannot read: Is a directory"]), path


@pytest.mark.parametrize("command", [[], ["check"]])
def test_a_fifo_is_refused_not_waited_on(tmp_path, command):
    fifo = tmp_path / "p.yaml"
    os.mkfifo(fifo)
    result = run_cli(*command, str(fifo))  # run_cli's timeout fails the test if this blocks
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == f"{fifo}: error: cannot read: not a regular file\n"
