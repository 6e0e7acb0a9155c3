"""`cmp-render diff OLD NEW`: what a change to a project file does to its rendered manifests.

OLD and NEW are project files, `git:REV:PATH` (the file as committed at REV, read with
`git cat-file blob REV:PATH` in the current repository: no shell, no checkout), or `/dev/null`
(no file: every object of the other side is added or removed). Both are rendered as Argo CD
would render them with the same settings, in the platform's secrets mode, but Vault is never
read: placeholders are shown as they are.

The output compares objects by identity (API group, kind, namespace, name): a summary line, one
line per object that differs (`~` changed, `+` added, `-` removed), then a unified diff of each,
in the documented output order. Exit status as diff(1): 0 no change (nothing printed), 1 changed,
2 trouble (every problem of both sides on stderr, nothing on stdout).
"""

from __future__ import annotations

import argparse
import difflib
import os
import subprocess
import sys

from cmp_plugin import emit as emit_stage
from cmp_plugin.load import io_problem
from cmp_plugin.commands import Parser
from cmp_plugin.problems import Failure, Problem, write_problems

EXIT_SAME, EXIT_CHANGED, EXIT_TROUBLE = 0, 1, 2
NO_FILE = "/dev/null"
GIT_PREFIX = "git:"
USAGE = "cmp-render diff OLD NEW [--project NAME] [--settings FILE]   (OLD, NEW: FILE, git:REV:PATH or /dev/null)"


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog="cmp-render diff", usage=USAGE)
    p.add_argument("old", metavar="OLD")
    p.add_argument("new", metavar="NEW")
    p.add_project_options("project name of both sides (default: each file's stem)")
    return p


def git_blob(spec: str) -> bytes:
    """The bytes of `git:REV:PATH`; raises Failure with git's own reason."""
    rev, sep, path = spec[len(GIT_PREFIX):].partition(":")
    if not sep or not rev or not path:
        raise Failure(Problem(spec, 0, 0, "", "expected git:REV:PATH, e.g. git:HEAD~1:projects/shop.yaml", "usage"))
    if rev.startswith("-"):  # would be read as an option by git
        raise Failure(Problem(spec, 0, 0, "", "a revision may not start with '-'", "usage"))
    try:
        run = subprocess.run(["git", "cat-file", "blob", f"{rev}:{path}"], capture_output=True,
                             stdin=subprocess.DEVNULL, env=_git_env())
    except OSError as exc:
        raise Failure(io_problem(spec, f"cannot run git: {exc.strerror or type(exc).__name__}")) from None
    if run.returncode != 0:
        reason = run.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = reason[0].removeprefix("fatal: ") if reason else f"git exited with {run.returncode}"
        raise Failure(io_problem(spec, reason))
    return run.stdout


def _git_env() -> dict:
    # never ask for credentials (a partial clone fetching a missing blob)
    return {**os.environ, "GIT_TERMINAL_PROMPT": "0"}


def _side(spec: str, project: str | None, settings) -> dict:
    """identity -> (sort key, YAML text) of the objects `spec` renders; raises Failure."""
    from cmp_plugin.pipeline import load_project, load_project_bytes, manifests, project_name

    if spec == NO_FILE:
        return {}
    if spec.startswith(GIT_PREFIX):
        data = git_blob(spec)
        path = spec[len(GIT_PREFIX):].partition(":")[2]
        proj = load_project_bytes(data, spec, project or project_name(path), settings)
    else:
        proj = load_project(spec, project, settings)
    out = {}
    for doc in manifests(proj, settings):
        group = doc["apiVersion"].rpartition("/")[0]
        meta = doc["metadata"]
        identity = (group, doc["kind"], meta.get("namespace", ""), meta["name"])
        text = emit_stage.emit([doc])
        out[identity] = (emit_stage.sort_key(doc) + (group,), text[len("---\n"):] if text.startswith("---\n") else text)
    return out


def _label(identity: tuple, sep: str = " ") -> str:
    group, kind, namespace, name = identity
    what = f"{kind}.{group}" if group else kind
    return f"{what}{sep}{namespace + '/' if namespace else ''}{name}"


def diff_objects(old: dict, new: dict, context: int = 3) -> str:
    """The report for two renderings ('' when they are the same)."""
    keys = sorted(set(old) | set(new), key=lambda k: (new.get(k) or old.get(k))[0])
    summary, hunks = [], []
    counts = {"~": 0, "+": 0, "-": 0}
    for key in keys:
        before, after = old.get(key, (None, ""))[1], new.get(key, (None, ""))[1]
        if before == after:
            continue
        mark = "+" if key not in old else "-" if key not in new else "~"
        counts[mark] += 1
        summary.append(f"{mark} {_label(key)}")
        path = _label(key, "/")
        hunks += difflib.unified_diff(before.splitlines(), after.splitlines(),
                                      "/dev/null" if mark == "+" else f"a/{path}",
                                      "/dev/null" if mark == "-" else f"b/{path}", n=context, lineterm="")
    if not summary:
        return ""
    head = f"{counts['~']} changed, {counts['+']} added, {counts['-']} removed"
    return "\n".join([head, *summary, "", *hunks]) + "\n"


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    from cmp_plugin.settings import load_settings

    problems: list[Problem] = []
    try:
        settings = load_settings(file=args.settings)
    except Failure as failure:
        return _trouble(failure.problems)
    sides = []
    for spec in (args.old, args.new):
        try:
            sides.append(_side(spec, args.project, settings))
        except Failure as failure:
            problems += failure.problems
    if problems:
        return _trouble(problems)
    text = diff_objects(*sides)
    if not text:
        return EXIT_SAME
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        return EXIT_TROUBLE
    return EXIT_CHANGED


def _trouble(problems: list[Problem]) -> int:
    write_problems(problems)
    return EXIT_TROUBLE
