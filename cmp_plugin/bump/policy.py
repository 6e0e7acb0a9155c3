"""What a bump may do: the command line's values, and the forward-only rules of docs/ci-loop.md.

Pure: no file, no YAML. `decide` is the table "Forward only" of docs/ci-loop.md; `check_arguments`
refuses a malformed sha or `--pushed-at` (and one from the future) before any file is opened.

`git.pushedAt` records when the commit in `git.hash` was pushed. A bump whose `--pushed-at` is
older than the recorded one, or equal with another sha, is refused (exit 3), so builds that finish
out of order cannot roll a deploy back. `--force` is for a human doing a deliberate rollback. A
`--pushed-at` more than MAX_FUTURE_SKEW ahead of the clock is refused (exit 2), even with
`--force`: recorded, it would refuse every later build.

`--pushed-at` is any RFC 3339 time: Argo Workflows writes `{{workflow.creationTimestamp}}` in the
controller's time zone (`2026-11-27T12:04:05+09:00` as well as `2026-11-27T03:04:05Z`). Times are
compared as instants and recorded in UTC with `Z`, the form the project schema accepts.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Iterable, NamedTuple

from cmp_plugin.problems import Failure, Problem

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3

# How far a --pushed-at may be ahead of this machine's clock (clock skew between the cluster that
# stamped the push and the runner). A later one is refused: recorded, it would block every build.
MAX_FUTURE_SKEW = timedelta(minutes=5)
SKEW_TEXT = f"{MAX_FUTURE_SKEW.total_seconds() / 60:g} minutes"

SHA_RE = re.compile(r"[0-9a-f]{40}")
# The project schema's pattern for pushedAt: RFC 3339, UTC ("Z"), optional fraction of a second.
TIMESTAMP_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?Z")
# What --pushed-at accepts: an RFC 3339 date-time (section 5.6) with "Z" or a numeric offset, the
# fraction of a second up to nanoseconds (Go's RFC3339Nano).
RFC3339_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
                        r"(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))")


class BumpError(Failure):
    """The bump cannot be done: a Failure with its exit code (docs/ci-loop.md)."""

    def __init__(self, problems: Problem | Iterable[Problem], code: int = EXIT_ERROR):
        super().__init__(problems if isinstance(problems, Problem) else list(problems))
        self.code = code


def show(value: str, limit: int = 80) -> str:
    """A value from the command line, quoted and escaped, safe to print on one line."""
    text = value if len(value) <= limit else value[: limit - 3] + "..."
    return repr(text)


def timestamp_key(value: str) -> tuple[datetime, int] | None:
    """Sort key of an RFC 3339 UTC timestamp as recorded (nanosecond precision), None if it is not one."""
    m = TIMESTAMP_RE.fullmatch(value)
    if not m:
        return None
    try:
        when = datetime(*(int(g) for g in m.groups()[:6]))
    except ValueError:
        return None
    return when, int((m.group(7) or "").ljust(9, "0"))


def utc_timestamp(value: str) -> str | None:
    """The same instant as the RFC 3339 time `value`, in UTC with `Z` and value's fraction of a
    second; None if value is not an RFC 3339 time (a real date, an offset within a day)."""
    m = RFC3339_RE.fullmatch(value)
    if not m:
        return None
    sign, hours, minutes = m.group(8), int(m.group(9) or 0), int(m.group(10) or 0)
    if hours > 23 or minutes > 59:
        return None
    try:
        when = datetime(*(int(g) for g in m.groups()[:6]))
        when -= (1 if sign == "+" else -1) * timedelta(hours=hours, minutes=minutes)
    except (ValueError, OverflowError):  # not a date, or the offset leaves years 1-9999
        return None
    fraction = f".{m.group(7)}" if m.group(7) else ""
    return f"{when.year:04d}-{when:%m-%dT%H:%M:%S}{fraction}Z"


def now() -> datetime:
    """This machine's clock, UTC, naive like timestamp_key's datetimes."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _from_the_future(given: str, key: tuple[datetime, int], clock: datetime) -> str | None:
    """The refusal of a --pushed-at (as given, with its key) more than MAX_FUTURE_SKEW ahead of clock."""
    limit = clock + MAX_FUTURE_SKEW
    if key <= (limit.replace(microsecond=0), limit.microsecond * 1000):
        return None
    return (f"invalid --pushed-at {show(given)}: more than {SKEW_TEXT} ahead of this machine's clock "
            f"({clock:%Y-%m-%dT%H:%M:%SZ}); a push cannot come from the future: check the clock that produced it")


def check_arguments(file: str, sha: str, pushed_at: str | None, clock: datetime | None = None) -> None:
    """The command line alone: a full lowercase sha and, if given, an RFC 3339 time; with `clock`,
    one at most MAX_FUTURE_SKEW ahead of it. Raises BumpError (exit 2) with every problem."""
    problems = []
    if not SHA_RE.fullmatch(sha):
        problems.append(Problem(file, 0, 0, "", f"invalid sha {show(sha)}: expected a full commit id, "
                                                "40 lowercase hex characters"))
    utc = utc_timestamp(pushed_at) if pushed_at is not None else None
    key = timestamp_key(utc) if utc is not None else None
    if pushed_at is not None and key is None:
        problems.append(Problem(file, 0, 0, "", f"invalid --pushed-at {show(pushed_at)}: expected an RFC 3339 "
                                                "time such as 2026-11-27T03:04:05Z or 2026-11-27T12:04:05+09:00"))
    future = _from_the_future(pushed_at, key, clock) if key is not None and clock is not None else None
    if future:
        problems.append(Problem(file, 0, 0, "", future))
    if problems:
        raise BumpError(problems, EXIT_USAGE)


class Current(NamedTuple):
    """What the file records for the application: None where a value is absent, null or empty."""

    hash: str | None
    pushed_at: str | None  # as written


class Request(NamedTuple):
    app: str
    sha: str
    pushed_at: str | None  # in UTC with Z (utc_timestamp's form), None when not given
    force: bool = False
    clock: datetime | None = None  # now, for the future check; None skips it
    given: str | None = None  # --pushed-at as given, for messages (default: pushed_at)


class Decision(NamedTuple):
    """What to write: the hash, pushedAt, both or neither; or why nothing may be written."""

    set_hash: bool
    set_pushed: bool
    code: int = EXIT_OK  # not EXIT_OK: refused, with `refusal` saying why
    refusal: str = ""

    @property
    def refused(self) -> bool:
        return self.code != EXIT_OK


def _refuse(code: int, message: str) -> Decision:
    return Decision(False, False, code, message)


def decide(current: Current, request: Request) -> Decision:
    """The table "Forward only" of docs/ci-loop.md: R is the recorded pushedAt, N the one given."""
    sha, pushed_at, force = request.sha, request.pushed_at, request.force
    new_key = timestamp_key(pushed_at) if pushed_at is not None else None
    if new_key is not None and request.clock is not None:  # a usage error, even with --force
        future = _from_the_future(request.given or pushed_at, new_key, request.clock)
        if future:
            return _refuse(EXIT_USAGE, future)
    old_hash, old_pushed = current
    old_key = timestamp_key(old_pushed) if old_pushed is not None else None
    if old_pushed is not None and old_key is None and not force:
        return _refuse(EXIT_ERROR, f"recorded pushedAt {old_pushed!r} is not an RFC 3339 UTC timestamp; "
                                   "fix it by hand or use --force")
    if old_hash == sha:  # already there: at most record a later push of the same commit
        newer = old_key is None or (new_key is not None and new_key > old_key)
        moved = pushed_at is not None and pushed_at != old_pushed and (force or newer)
        return Decision(False, moved)
    if old_key is not None and not force:
        refusal = _backwards(current, request, old_key, new_key)
        if refusal is not None:
            return refusal
    return Decision(True, pushed_at is not None and pushed_at != old_pushed)


def _backwards(current: Current, request: Request, old_key, new_key) -> Decision | None:
    """The refusal of another sha when pushedAt R is recorded and N is not later (or not given)."""
    app, sha, pushed_at = request.app, request.sha, request.pushed_at
    old_hash, old_pushed = current
    if new_key is None:
        return _refuse(EXIT_ERROR, f"application {app!r} records pushedAt {old_pushed}; give --pushed-at so that an "
                                   "older build cannot roll it back (or --force for a deliberate rollback)")
    if new_key < old_key:
        return _refuse(EXIT_REFUSED, f"refusing to roll {app!r} back: it is at {old_hash or 'no hash'}, pushed at "
                                     f"{old_pushed}; {sha} was pushed earlier, at {pushed_at} "
                                     "(use --force for a deliberate rollback)")
    if new_key == old_key:
        return _refuse(EXIT_REFUSED, f"refusing to replace {old_hash or 'no hash'} of {app!r} with {sha}: both were "
                                     f"pushed at {pushed_at}, so which is newer is unknown (use --force to choose)")
    return None
