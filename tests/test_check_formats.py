"""`cmp-render check --format github|json`: reports on stdout, for pull request annotations and tools.

Goldens: tests/golden/check/invalid.github.txt and invalid.json, every invalid fixture in one run.
UPDATE_GOLDEN=1 rewrites them.
"""

from __future__ import annotations

import json
import os

import pytest

from cliutil import REPO, expected_lines, run_cli

GOLDEN = REPO / "tests" / "golden" / "check"
INVALID = sorted((REPO / "tests" / "fixtures" / "invalid").glob("*.yaml"))
EXAMPLES = "examples/projects"


@pytest.fixture
def check(cli):
    """cmp-render check in this process: (code, out, err)."""
    return lambda *args: cli("check", *args)


@pytest.mark.parametrize("fmt,golden", [("github", "invalid.github.txt"), ("json", "invalid.json")])
def test_golden_reports_of_the_invalid_fixtures(check, fmt, golden):
    code, out, err = check("--format", fmt, *(str(p.relative_to(REPO)) for p in INVALID))
    assert (code, err) == (1, "")
    path = GOLDEN / golden
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(out)
    assert out == path.read_text()


def test_every_format_reports_the_same_problems(check):
    """One problem per `# expect:` line of every fixture, in each format, in the same order."""
    files = [str(p.relative_to(REPO)) for p in INVALID]
    _, _, text = check(*files)
    _, github, _ = check("--format", "github", *files)
    _, report, _ = check("--format", "json", *files)
    expected = [line for p in INVALID for line in expected_lines(p)]
    assert text.splitlines() == expected
    assert len(github.splitlines()) == len(json.loads(report)) == len(expected)
    for line, item, command in zip(expected, json.loads(report), github.splitlines()):
        assert line.startswith(f"{item['file']}:{item['line']}:{item['column']}: error: ")
        assert line.endswith(item["message"].replace("\n", "\\x0a"))
        assert command.startswith(f"::error file={item['file']},line={item['line']},col={item['column']},title=")


def test_a_clean_run_reports_nothing_and_exits_0(check):
    ok = f"{len(list((REPO / EXAMPLES).glob('*.y*ml')))} project files OK\n"
    assert check("--format", "github", EXAMPLES) == (0, "", ok)
    assert check("--format", "json", EXAMPLES) == (0, "[]\n", ok)
    assert check(EXAMPLES) == (0, "", ok)  # the text format is unchanged


def test_a_directory_stands_for_its_project_files(check, tmp_path):
    """Like the ApplicationSet's projects/*.yaml generator: not recursive, .yaml and .yml."""
    (tmp_path / "a.yaml").write_text("databases:\n  - {name: db, type: redis, version: '7', port: 6379, size: 1Gi}\n")
    (tmp_path / "b.yml").write_text((tmp_path / "a.yaml").read_text())
    (tmp_path / "notes.txt").write_text("not a project")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.yaml").write_text("{}")
    assert check(str(tmp_path)) == (0, "", "2 project files OK\n")
    empty = tmp_path / "sub" / "empty"
    empty.mkdir()
    code, out, err = check("--format", "json", str(empty))
    assert (code, err) == (1, "")
    assert json.loads(out) == [{"file": str(empty), "line": None, "column": None, "path": None, "rule": "io",
                                "severity": "error", "message": "no project files (*.yaml, *.yml) in this directory"}]


def test_cross_project_conflicts_are_annotations_on_the_second_file(check, tmp_path):
    app = "applications:\n  - name: web\n    image: nginx:1.27\n    port: 80\n    domains: [shared.example.com]\n"
    (tmp_path / "alpha.yaml").write_text(app)
    (tmp_path / "beta.yaml").write_text(app)
    code, out, err = check("--format", "github", str(tmp_path))
    assert (code, err) == (1, "")
    a, b = tmp_path / "alpha.yaml", tmp_path / "beta.yaml"
    assert out == (f"::error file={b},line=5,col=15,title=applications[0].domains[0]::domain 'shared.example.com' "
                   f"is also claimed by project 'alpha' ({a}:5:15)\n")


def test_problems_without_a_place_are_reported_too(check, tmp_path):
    """A bad settings file or an unreadable file is part of the report, not lost on stderr."""
    settings = tmp_path / "settings.yaml"
    settings.write_text("registry: 'bad host'\nnope: 1\n")
    code, out, err = check("--format", "json", "--settings", str(settings), EXAMPLES)
    assert (code, err) == (1, "")
    unknown, registry = json.loads(out)
    assert unknown == {"file": None, "line": None, "column": None, "path": None, "rule": None, "severity": "error",
                       "message": f"settings file {settings}: unknown setting 'nope'"}
    assert registry["message"].startswith(f"settings file {settings}: registry: 'bad host' does not match ")
    code, out, err = check("--format", "github", "--settings", str(settings), EXAMPLES)
    assert out.splitlines()[0] == f"::error title=cmp-render::settings file {settings}: unknown setting 'nope'"
    code, out, _ = check("--format", "github", str(tmp_path / "missing.yaml"))
    assert (code, out) == (1, f"::error file={tmp_path / 'missing.yaml'},title=cmp-render::cannot read: "
                              "No such file or directory\n")


def test_workflow_commands_are_escaped(check, tmp_path):
    """Properties escape `:` and `,`; the message escapes `%`; no value can end the line or start a
    second command (GitHub reads `::` commands at the start of a line only)."""
    from cmp_plugin.problems import Problem, github_command

    hostile = Problem("dir,x/a:b.yaml", 3, 7, "applications[0].env.A,B", "50% of\n::warning::forged\r%0A", "schema")
    assert github_command(hostile) == (
        "::error file=dir%2Cx/a%3Ab.yaml,line=3,col=7,title=applications[0].env.A%2CB::"
        "50%25 of\\x0a::warning::forged\\x0d%250A")
    bad = tmp_path / "crlf.yaml"
    bad.write_bytes(b"applications:\n  - name: api\n    image: nginx:1\n    env:\n      \"A\\nB%0A\": x\n")
    code, out, _ = check("--format", "github", str(bad))
    lines = out.splitlines()
    assert code == 1 and lines and all(line.startswith(f"::error file={bad},line=5,col=7,title=") for line in lines)
    assert "env.A\\x0aB%250A::" in lines[0]  # `%` itself is escaped: the runner cannot decode a line break


def test_json_keeps_the_exact_message(check, tmp_path):
    bad = tmp_path / "ctl.yaml"
    bad.write_text('applications:\n  - name: api\n    image: nginx:1\n    env: {"A\\tB": x}\n')
    code, out, _ = check("--format", "json", str(bad))
    items = json.loads(out)
    assert code == 1 and {item["path"] for item in items} == {"applications[0].env.A\tB"}  # not \x09
    assert len(out.splitlines()) == len(items) + 2  # `[`, one line per problem, `]`


def test_usage_errors_stay_on_stderr(check):
    code, out, err = check("--format", "sarif", EXAMPLES)
    assert (code, out) == (2, "") and "invalid choice: 'sarif'" in err


def test_check_with_annotations_through_the_command_line():
    fixture = "tests/fixtures/invalid/port-range.yaml"
    result = run_cli("check", "--format", "github", fixture)
    assert (result.returncode, result.stderr) == (1, "")
    assert result.stdout == (f"::error file={fixture},line=6,col=11,title=applications[0].port::"
                             "99999 is greater than the maximum of 65535\n")
