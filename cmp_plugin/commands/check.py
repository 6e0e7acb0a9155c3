"""`cmp-render check`: validate many project files and the conflicts between them."""

from __future__ import annotations

import argparse
import os
import sys

from cmp_plugin import load as load_stage
from cmp_plugin import naming
from cmp_plugin.commands import Parser, write
from cmp_plugin.naming import project_name
from cmp_plugin.problems import Failure, Problem
from cmp_plugin.settings import Settings
from cmp_plugin.validate import validate

USAGE = "cmp-render check PROJECT_FILE_OR_DIR... [--settings FILE] [--format text|github|json]"


def check_files(paths: list[str], settings: Settings) -> tuple[list[Problem], int]:
    problems: list[Problem] = []
    # domain -> (file, project, where): positions are looked up only for a conflict (a file that
    # fastyaml read finds them with PyYAML, which a check of valid files never needs)
    owners: dict[str, tuple] = {}
    # webhook path -> (file, project, where): all projects share the webhook host, and project "a-b"
    # with app "c" and project "a" with app "b-c" both get /a-b-c
    hooks: dict[str, tuple] = {}
    projects: dict[str, str] = {}  # project name -> file
    for path in paths:
        loaded = load_stage.load_file(path)
        name = project_name(path)
        found = validate(loaded, name, settings)
        problems += found
        if name in projects:
            problems.append(Problem(path, 1, 1, "project", f"project {name!r} is also defined by {projects[name]}", "duplicate-project"))
        projects.setdefault(name, path)
        if found:
            continue
        for i, app in enumerate(loaded.value.get("applications") or []):
            if "git" in app:
                where = ("applications", i, "name")
                hook = naming.app_names(name, app["name"])["webhook_path"]
                if hook in hooks and hooks[hook][1] != name:
                    file, other, (other_loaded, other_where) = hooks[hook]
                    line, col = other_loaded.place(other_where)
                    problems.append(loaded.problem(where, f"webhook path {hook!r} is also derived by project {other!r} "
                                                          f"({file}:{line}:{col})", "webhook-conflict"))
                else:
                    hooks.setdefault(hook, (path, name, (loaded, where)))
            for j, domain in enumerate(app.get("domains") or []):
                where = ("applications", i, "domains", j)
                if domain in owners and owners[domain][1] != name:
                    file, other, (other_loaded, other_where) = owners[domain]
                    line, col = other_loaded.place(other_where)
                    problems.append(loaded.problem(where, f"domain {domain!r} is also claimed by project {other!r} ({file}:{line}:{col})", "domain-conflict"))
                else:
                    owners.setdefault(domain, (path, name, (loaded, where)))
    return problems, len(paths)


def _parser() -> argparse.ArgumentParser:
    from cmp_plugin.problems import REPORT_FORMATS

    p = Parser(prog="cmp-render check", usage=USAGE)
    p.add_argument("files", nargs="+", metavar="PROJECT_FILE_OR_DIR")
    p.add_argument("--settings")
    p.add_argument("--format", choices=REPORT_FORMATS, default="text",
                   help="text (stderr, the default), or a report on stdout: github workflow commands or json")
    return p


def project_files(paths: list[str]) -> list[str]:
    """The arguments of `check`, a directory standing for its `*.yaml` and `*.yml` files (not
    recursive, sorted), as the ApplicationSet's `projects/*.yaml` generator sees them."""
    out, empty = [], []
    for path in paths:
        if not os.path.isdir(path):
            out.append(path)
            continue
        names = sorted(n for n in os.listdir(path) if n.endswith((".yaml", ".yml")))
        found = [os.path.join(path, n) for n in names if os.path.isfile(os.path.join(path, n))]
        if not found:
            empty.append(Problem(path, 0, 0, "", "no project files (*.yaml, *.yml) in this directory", "io"))
        out += found
    if empty:
        raise Failure(empty)
    return out


def main(argv: list[str]) -> int:
    from cmp_plugin.commands.check import check_files
    from cmp_plugin.problems import report
    from cmp_plugin.settings import load_settings

    args = _parser().parse_args(argv)
    try:
        settings = load_settings(file=args.settings)
        problems, count = check_files(project_files(args.files), settings)
    except Failure as failure:
        problems, count = failure.problems, 0
    if args.format != "text":
        written = write(report(problems, args.format))
        if problems or written:
            return 1
    elif problems:
        raise Failure(problems)
    sys.stderr.write(f"{count} project files OK\n")
    return 0
