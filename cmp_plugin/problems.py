"""Problems are values: every stage returns or raises them, the CLI prints them.

An input problem points at a place in a file (`FILE:LINE:COL: error: PATH: message`);
a run problem (Vault unreachable, a bad setting) has no place (`error: message`).
"""

from __future__ import annotations

import os
import re
import sys
from collections import namedtuple

EXIT_INTERNAL = 70  # sysexits' EX_SOFTWARE: a bug, not bad input (which exits 1)

# Control characters (C0, DEL, C1) and Unicode line breaks, escaped in every printed field so
# that one problem is always one line: a crafted key cannot forge a second problem or send
# terminal escapes.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str) -> str:
    return _UNPRINTABLE.sub(_escape, text)


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def format_path(parts, *, quote: bool = False, dotted: bool = False) -> str:
    """Where a value sits, for a message. Three spellings, each kept because messages name places
    with it: `applications[1].port` (project files); with quote, a key that is not a plain name is
    quoted, `data['tls.crt']` (objects the secrets stage reads); with dotted, every part is joined
    by dots, `spec.containers.0.env` (the check stage)."""
    if dotted:
        return ".".join(map(str, parts))
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif quote and not _PLAIN_KEY.fullmatch(part):
            out += f"[{part!r}]"
        else:
            out += f".{part}" if out else str(part)
    return out


# A namedtuple, as the package's other records: importing dataclasses costs a share of a cold start.
# line is 1-based, 0 when the problem has no place in a file; path is JSON-path-like,
# e.g. applications[1].port. Tuples sort by file, line, column: the order of the report.
# Every problem is an error: reports that name a severity (`::error`, "severity": "error") say so.
class Problem(namedtuple("Problem", "file line col path message rule", defaults=("",))):
    __slots__ = ()

    def format(self) -> str:
        file = printable(self.file)
        where = f"{file}:{self.line}:{self.col}: " if self.line else (f"{file}: " if file else "")
        path = f"{printable(self.path)}: " if self.path else ""
        return f"{where}error: {path}{printable(self.message)}"


class Failure(Exception):
    """A run that cannot produce output. Carries every problem found, never a secret value."""

    def __init__(self, problems: list[Problem] | Problem | str):
        if isinstance(problems, str):
            problems = [Problem("", 0, 0, "", problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems = list(problems)
        super().__init__("\n".join(p.format() for p in self.problems))


def github_command(problem: Problem) -> str:
    """A GitHub Actions workflow command (`::error file=F,line=L,col=C,title=PATH::message`): the
    runner shows it as an annotation on that line. Escaped as actions/toolkit's command.ts does:
    `%` in the message, also `:` and `,` in properties (CR and LF cannot occur: control characters
    are printed escaped), so one problem stays one line and cannot start another command."""
    props = []
    if problem.file:
        props.append(f"file={_property(problem.file)}")
        if problem.line:
            props += [f"line={problem.line}", f"col={problem.col}"]
    props.append(f"title={_property(problem.path or 'cmp-render')}")
    return f"::error {','.join(props)}::{_data(problem.message)}"


def _data(text: str) -> str:
    return printable(text).replace("%", "%25")  # printable() has already escaped CR and LF


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def as_dict(problem: Problem) -> dict:
    """One problem as a JSON object; null where it has no place in a file."""
    return {"file": problem.file or None, "line": problem.line or None, "column": problem.col or None,
            "path": problem.path or None, "rule": problem.rule or None, "severity": "error",
            "message": problem.message}


REPORT_FORMATS = ("text", "github", "json")


def report(problems: list[Problem], fmt: str) -> str:
    """The problems as a report on stdout: `github` workflow commands, or a `json` array."""
    if fmt == "github":
        return "".join(github_command(p) + "\n" for p in problems)
    if fmt == "json":
        import json

        if not problems:
            return "[]\n"
        return "[\n" + ",\n".join("  " + json.dumps(as_dict(p)) for p in problems) + "\n]\n"
    return "".join(p.format() + "\n" for p in problems)


def run_problem(message: str, rule: str = "") -> Problem:
    """A problem that is not about a place in an input file."""
    return Problem("", 0, 0, "", message, rule)


def write_problems(problems: list[Problem], stream=None) -> None:
    """The one printer of problems on stderr, `text` format; a closed stream is not a second error."""
    try:
        out = stream or sys.stderr
        out.write(report(problems, "text") or "error: the run failed\n")
        out.flush()
    except (OSError, ValueError):
        pass


def internal_error(exc: BaseException, with_traceback: bool = False) -> None:
    """Report a bug on stderr. Never the exception's text: it could carry a value we must not show;
    the type and where it was raised are enough to report it. Callers pass settings.debug()
    (CMP_DEBUG) as `with_traceback`."""
    import traceback

    lines = traceback.format_exception(exc) if with_traceback else []
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" at {os.path.basename(tb[-1].filename)}:{tb[-1].lineno}" if tb else ""
    lines.append(f"error: internal error ({type(exc).__name__}{where}); please report it "
                 "(CMP_DEBUG=true in the environment adds a traceback)\n")
    try:
        sys.stderr.write("".join(lines))
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
