"""Problems are values: every stage returns or raises them, the CLI prints them.

An input problem points at a place in a file (`FILE:LINE:COL: error: PATH: message`);
a run problem (Vault unreachable, a bad setting) has no place (`error: message`).
"""

from __future__ import annotations

from collections import namedtuple


# A namedtuple, not a dataclass: dataclasses cost a noticeable share of a cold start.
# line is 1-based, 0 when the problem has no place in a file; path is JSON-path-like,
# e.g. applications[1].port. Tuples sort by file, line, column: the order of the report.
class Problem(namedtuple("Problem", "file line col path message rule severity", defaults=("", "error"))):
    __slots__ = ()

    def format(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}: " if self.line else (f"{self.file}: " if self.file else "")
        path = f"{self.path}: " if self.path else ""
        return f"{where}{self.severity}: {path}{self.message}"


class Failure(Exception):
    """A run that cannot produce output. Carries every problem found, never a secret value."""

    def __init__(self, problems: list[Problem] | Problem | str):
        if isinstance(problems, str):
            problems = [Problem("", 0, 0, "", problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems = list(problems)
        super().__init__("\n".join(p.format() for p in self.problems))


def run_problem(message: str, rule: str = "") -> Problem:
    """A problem that is not about a place in an input file."""
    return Problem("", 0, 0, "", message, rule)
