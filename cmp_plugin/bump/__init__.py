"""`cmp-render bump PROJECT_FILE APP SHA [--pushed-at RFC3339] [--force]`.

Sets `applications[name=APP].git.hash` (and `git.pushedAt`) of a project file in place, for the
CI loop: a build finishes, a GitHub Action runs this in the gitops repository, commits, Argo CD
deploys. See docs/ci-loop.md for the whole loop.

- `policy`: the command line's values and the forward-only rules (pure);
- `edit`: the new text, a splice of the two values into the old one (pure);
- `files`: the file's repository, lock, reading and atomic replacement.

The command line itself is `cmp_plugin.cli` (`python -m cmp_plugin.bump` runs it too).

Exit codes: 0 bumped or already there (one line on stdout), 1 error, 2 usage, 3 refused because
the build is not newer than the recorded one. On failure stdout is empty and stderr has one line
per problem: `FILE:LINE:COL: error: PATH: message`, or `FILE: error: message`.
"""

from __future__ import annotations

import os
from typing import Callable

from cmp_plugin.bump import files
from cmp_plugin.bump.edit import Outcome, plan_bump
from cmp_plugin.bump.policy import (EXIT_ERROR, EXIT_OK, EXIT_REFUSED, EXIT_USAGE, MAX_FUTURE_SKEW, BumpError,
                                    check_arguments, timestamp_key, utc_timestamp)
from cmp_plugin.bump.policy import now as _now
from cmp_plugin.load import MAX_BYTES
from cmp_plugin.problems import Problem

__all__ = ["EXIT_ERROR", "EXIT_OK", "EXIT_REFUSED", "EXIT_USAGE", "LOCK_TIMEOUT", "MAX_BYTES", "MAX_FUTURE_SKEW",
           "BumpError", "Outcome", "Validator", "bump_file", "check_arguments", "plan_bump",
           "timestamp_key", "utc_timestamp"]

LOCK_TIMEOUT = 120.0  # seconds; bumps hold the lock for milliseconds

Validator = Callable[[str, str], "list[Problem]"]


def _schema_validator(display: str) -> Validator:
    try:
        from cmp_plugin.pipeline import validate_text
    except ImportError as exc:
        message = f"cannot check the project schema ({type(exc).__name__}); nothing was written"
        raise BumpError(Problem(display, 0, 0, "", message)) from None
    return validate_text


def bump_file(path: str, app: str, sha: str, *, pushed_at: str | None = None, force: bool = False,
              validate: Validator | None = None, lock_timeout: float = LOCK_TIMEOUT) -> Outcome:
    """Bump APP in the file at path, under the file's lock; the result must pass `validate`
    (default: `cmp_plugin.pipeline.validate_text`). Raises BumpError; writes only on success."""
    display = path
    clock = _now()
    check_arguments(display, sha, pushed_at, clock)
    real = os.path.realpath(path)
    files.check_inside_repository(path, real, display)
    files.check_regular(real, display)
    fd = files.lock(real, display, lock_timeout)
    try:
        text = files.read(fd, display)
        outcome = plan_bump(text, display, app, sha, pushed_at, force, clock)
        if not outcome.changed:
            return outcome
        problems = list((validate or _schema_validator(display))(outcome.text, display))
        if problems:
            problems.append(Problem(display, 0, 0, "", "not changed: the result would not pass the project schema"))
            raise BumpError(problems)
        try:
            files.write_atomic(real, outcome.text.encode("utf-8"), os.fstat(fd))
        except OSError as exc:
            raise BumpError(Problem(display, 0, 0, "", f"cannot write: {files.reason(exc)}")) from None
        return outcome
    finally:
        os.close(fd)
