"""`cmp-render bump PROJECT_FILE APP SHA [--pushed-at RFC3339] [--force]`.

Sets `applications[name=APP].git.hash` (and `git.pushedAt`) of a project file in place, for the
CI loop: a build finishes, a GitHub Action runs this in the gitops repository, commits, Argo CD
deploys. See docs/ci-loop.md for the whole loop.

The edit is a text splice, not a YAML round trip: PyYAML composes the node tree, whose marks give
the line and column of every scalar; only the characters of the `hash`/`pushedAt` values change
(or one line per missing key is inserted under `git:` with the indentation of its siblings).
Comments, key order, quoting, indentation, CRLF line ends and a missing final newline all stay
as they were. Before anything is written the result is parsed again and compared, node by node,
with the original: if anything but the two values differs, nothing is written.

Forward only: `git.pushedAt` records when the commit in `git.hash` was pushed. A bump whose
`--pushed-at` is older than the recorded one, or equal with another sha, is refused (exit 3), so
builds that finish out of order cannot roll a deploy back. `--force` is for a human doing a
deliberate rollback. A `--pushed-at` more than MAX_FUTURE_SKEW ahead of the clock is refused (exit
2), even with `--force`: recorded, it would refuse every later build.

`--pushed-at` is any RFC 3339 time: Argo Workflows writes `{{workflow.creationTimestamp}}` in the
controller's time zone (`2026-11-27T12:04:05+09:00` as well as `2026-11-27T03:04:05Z`). Times are
compared as instants and recorded in UTC with `Z`, the form the project schema accepts.

A symbolic link (of the file or of a directory on its path) is followed only while it stays in the
file's repository: the git work tree holding it, or without one, the file's directory.

Concurrency: the whole read-check-write runs under an exclusive `flock` on the project file
itself. The write replaces the file (temp file in the same directory, fsync, `os.replace`), so
the locked inode is retired by every write; a waiter that gets the lock therefore checks that
the path still names the inode it locked and, if not, opens the new file and locks again. No
stray lock file is left in the gitops checkout.

Exit codes: 0 bumped or already there (one line on stdout), 1 error, 2 usage, 3 refused because
the build is not newer than the recorded one. On failure stdout is empty and stderr has one line
per problem: `FILE:LINE:COL: error: PATH: message`, or `FILE: error: message`.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import re
import stat
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable

import yaml

from cmp_plugin.problems import Problem, printable

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3

MAX_BYTES = 1024 * 1024
LOCK_TIMEOUT = 120.0  # seconds; bumps hold the lock for milliseconds
# How far a --pushed-at may be ahead of this machine's clock (clock skew between the cluster that
# stamped the push and the runner). A later one is refused: recorded, it would block every build.
MAX_FUTURE_SKEW = timedelta(minutes=5)
_SKEW_TEXT = f"{MAX_FUTURE_SKEW.total_seconds() / 60:g} minutes"

SHA_RE = re.compile(r"[0-9a-f]{40}")
# The project schema's pattern for pushedAt: RFC 3339, UTC ("Z"), optional fraction of a second.
TIMESTAMP_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?Z")
# What --pushed-at accepts: an RFC 3339 date-time (section 5.6) with "Z" or a numeric offset, the
# fraction of a second up to nanoseconds (Go's RFC3339Nano).
RFC3339_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
                        r"(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))")
_BREAK_RE = re.compile("\r\n|[\r\n\x85\u2028\u2029]")  # YAML 1.1 line breaks, as PyYAML and libyaml count lines
_BREAK_CHARS = "\r\n\x85\u2028\u2029"
_YAML12_NUMBER = re.compile(r"[0-9]+(?:[eE][-+]?[0-9]+)?")

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
NULL_TAG = "tag:yaml.org,2002:null"
STR_TAG = "tag:yaml.org,2002:str"
MERGE_TAG = "tag:yaml.org,2002:merge"

Validator = Callable[[str, str], "list[Problem]"]


class BumpError(Exception):
    """The bump cannot be done; carries the problems to print and the exit code."""

    def __init__(self, problems: Problem | Iterable[Problem], code: int = EXIT_ERROR):
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        self.code = code
        super().__init__("\n".join(p.format() for p in self.problems))


@dataclass(frozen=True)
class Outcome:
    changed: bool
    text: str  # the new text of the file (the old one when not changed)
    message: str  # the one line printed on success


def _show(value: str, limit: int = 80) -> str:
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


def _now() -> datetime:
    """This machine's clock, UTC, naive like timestamp_key's datetimes."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def check_arguments(file: str, sha: str, pushed_at: str | None, now: datetime | None = None) -> None:
    """The command line alone: a full lowercase sha and, if given, an RFC 3339 time; with `now`,
    one at most MAX_FUTURE_SKEW ahead of it."""
    problems = []
    if not SHA_RE.fullmatch(sha):
        problems.append(Problem(file, 0, 0, "", f"invalid sha {_show(sha)}: expected a full commit id, "
                                                "40 lowercase hex characters"))
    utc = utc_timestamp(pushed_at) if pushed_at is not None else None
    key = timestamp_key(utc) if utc is not None else None
    if pushed_at is not None and key is None:
        problems.append(Problem(file, 0, 0, "", f"invalid --pushed-at {_show(pushed_at)}: expected an RFC 3339 "
                                                "time such as 2026-11-27T03:04:05Z or 2026-11-27T12:04:05+09:00"))
    if key is not None and now is not None:
        limit = now + MAX_FUTURE_SKEW
        if key > (limit.replace(microsecond=0), limit.microsecond * 1000):
            problems.append(Problem(file, 0, 0, "", f"invalid --pushed-at {_show(pushed_at)}: more than {_SKEW_TEXT} "
                                                    f"ahead of this machine's clock ({now:%Y-%m-%dT%H:%M:%SZ}); a push "
                                                    "cannot come from the future: check the clock that produced it"))
    if problems:
        raise BumpError(problems, EXIT_USAGE)


# --------------------------------------------------------------------------- the text edit


class _Text:
    """Offsets of PyYAML marks (line, column) in the text; independent of the parser's `index`."""

    def __init__(self, text: str):
        self.text = text
        self.starts = [0] + [m.end() for m in _BREAK_RE.finditer(text)]
        first = _BREAK_RE.search(text)
        self.newline = first.group() if first else "\n"

    def offset(self, mark) -> int:
        return self.starts[mark.line] + mark.column

    def line_end(self, pos: int) -> int:
        """Offset of the line break (or end of text) of the line holding pos."""
        for i in range(pos, len(self.text)):
            if self.text[i] in _BREAK_CHARS:
                return i
        return len(self.text)

    def break_at(self, pos: int) -> str:
        m = _BREAK_RE.match(self.text, pos)
        return m.group() if m else self.newline


@dataclass
class _Span:
    start: int
    end: int
    quote: str  # '"', "'" or "" (plain)
    empty: bool  # `key:` with nothing after it


@dataclass
class _Ctx:
    file: str
    text: _Text

    def problem(self, node, path: str, message: str) -> Problem:
        if node is None:
            return Problem(self.file, 0, 0, path, message)
        return Problem(self.file, node.start_mark.line + 1, node.start_mark.column + 1, path, message)

    def fail(self, node, path: str, message: str, code: int = EXIT_ERROR) -> BumpError:
        return BumpError(self.problem(node, path, message), code)


def _compose(ctx: _Ctx, text: str):
    loader = _Loader(text)
    try:
        return loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(str(exc.problem or exc).split())
        if exc.context and "expected a single document" not in problem:
            problem = f"{' '.join(str(exc.context).split())}, {problem}"
        if "expected a single document" in problem:
            problem = "expected one YAML document, found more"
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise BumpError(Problem(ctx.file, line, col, "", f"YAML syntax: {problem}")) from None
    except yaml.YAMLError as exc:
        raise BumpError(Problem(ctx.file, 0, 0, "", f"YAML syntax: {' '.join(str(exc).split())}")) from None
    except RecursionError:
        raise BumpError(Problem(ctx.file, 0, 0, "", "YAML nested too deeply")) from None
    finally:
        loader.dispose()


def _refcounts(root) -> dict[int, int]:
    """How many places refer to each node: more than one means an anchor with aliases."""
    counts: dict[int, int] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        seen = counts.get(id(node), 0)
        counts[id(node)] = seen + 1
        if seen:
            continue
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack += (key, value)
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value
    return counts


def _pairs(mapping, key: str) -> list:
    return [(k, v) for k, v in mapping.value if isinstance(k, yaml.ScalarNode) and k.tag == STR_TAG and k.value == key]


def _single(ctx: _Ctx, mapping, key: str, path: str):
    found = _pairs(mapping, key)
    if len(found) > 1:
        k = found[1][0]
        raise ctx.fail(k, f"{path}.{key}" if path else key,
                       f"duplicate key {key!r} (first defined on line {found[0][0].start_mark.line + 1})")
    return found[0] if found else None


def _has_merge(mapping) -> bool:
    return any(k.tag == MERGE_TAG for k, _ in mapping.value)


def _colon_after(ctx: _Ctx, key) -> int | None:
    """Offset just past the `:` that follows key on the key's line."""
    text = ctx.text.text
    pos = ctx.text.offset(key.end_mark)
    while pos < len(text) and text[pos] in " \t":
        pos += 1
    return pos + 1 if pos < len(text) and text[pos] == ":" else None


def _span(ctx: _Ctx, key, value, path: str, counts: dict[int, int]) -> _Span:
    """Exact characters of a single-line scalar value; refuses anything it cannot edit safely."""
    text = ctx.text.text
    if not isinstance(value, yaml.ScalarNode):
        raise ctx.fail(value, path, "expected a single value, found a mapping or list")
    if counts.get(id(value), 0) > 1:  # an alias's marks are its anchor's: point at the key
        raise ctx.fail(key, path, "the value is shared through a YAML anchor and alias; edit it by hand")
    style = value.style or ""  # plain: None from PyYAML, "" from libyaml
    if style not in ("", '"', "'"):
        raise ctx.fail(value, path, "a block scalar (| or >) cannot be edited; write the value on the key's line")
    if not style and value.value == "" and value.start_mark.index == value.end_mark.index:
        colon = _colon_after(ctx, key)
        rest = text[colon:ctx.text.line_end(colon)] if colon is not None else "?"
        if colon is None or not (rest.strip() == "" or re.match(r"[ \t]+#", rest)):
            raise ctx.fail(value, path, "cannot find where to write the value; edit it by hand")
        return _Span(colon, colon, "", True)
    start, end = ctx.text.offset(value.start_mark), ctx.text.offset(value.end_mark)
    single_line = value.start_mark.line == value.end_mark.line == key.start_mark.line
    if not style:
        ok = single_line and text[start:end] == value.value
    else:
        ok = single_line and end - start >= 2 and text[start] == text[end - 1] == style
    if not ok:
        raise ctx.fail(value, path, "the value spans several lines or carries a YAML tag or anchor; "
                                    "write it as a plain or quoted value on the key's line")
    return _Span(start, end, style, False)


def _plain_is_string(value: str) -> bool:
    """True when value written plain reads back as this string (in YAML 1.1 and 1.2)."""
    tag = yaml.resolver.Resolver().resolve(yaml.ScalarNode, value, (True, False))
    return tag == STR_TAG and not _YAML12_NUMBER.fullmatch(value)


def _render(value: str, existing: _Span | None, plain_ok: bool) -> str:
    if existing is not None and existing.quote:
        return f"{existing.quote}{value}{existing.quote}"
    if plain_ok:
        return value
    return f'"{value}"'


def _canon(root, counts: dict[int, int], replace: dict[int, Callable] | None = None):
    """A comparable form of a node tree; aliases stay references (no expansion)."""
    numbers: dict[int, int] = {}

    def walk(node):
        prefix: tuple = ()
        if counts.get(id(node), 0) > 1:
            if id(node) in numbers:
                return ("*", numbers[id(node)])
            numbers[id(node)] = len(numbers)
            prefix = ("&", numbers[id(node)])
        if isinstance(node, yaml.ScalarNode):
            return prefix + ("s", node.tag, node.value)
        if isinstance(node, yaml.SequenceNode):
            return prefix + ("q", node.tag, tuple(walk(item) for item in node.value))
        pairs = [(walk(k), walk(v)) for k, v in node.value]
        if replace and id(node) in replace:
            pairs = replace[id(node)](pairs)
        return prefix + ("m", node.tag, tuple(sorted(pairs, key=repr)))

    return walk(root)


def _scalar_canon(source: str):
    node = yaml.compose(source, Loader=_Loader)
    return ("s", node.tag, node.value)


def plan_bump(text: str, file: str, app: str, sha: str, pushed_at: str | None = None,
              force: bool = False) -> Outcome:
    """The new text of a project file with APP at SHA; pure (no I/O, no schema). Raises BumpError."""
    check_arguments(file, sha, pushed_at)
    if pushed_at is not None:  # compared as an instant, recorded in UTC
        pushed_at = utc_timestamp(pushed_at)
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    body = text[len(bom):]
    ctx = _Ctx(file, _Text(body))
    root = _compose(ctx, body)
    if not isinstance(root, yaml.MappingNode):
        raise ctx.fail(root, "", "expected a mapping with applications at the top level")
    counts = _refcounts(root)

    apps = _single(ctx, root, "applications", "")
    if apps is None:
        raise ctx.fail(None, "applications", f"no application named {_show(app)}: the file has no applications")
    apps_key, apps_node = apps
    if not isinstance(apps_node, yaml.SequenceNode):
        raise ctx.fail(apps_node, "applications", "expected a list of applications")
    matches, names = [], []
    for i, item in enumerate(apps_node.value):
        if not isinstance(item, yaml.MappingNode):
            continue
        name = _pairs(item, "name")
        if len(name) != 1 or not isinstance(name[0][1], yaml.ScalarNode):
            continue
        names.append(name[0][1].value)
        if name[0][1].value == app:
            matches.append((i, item, name[0][1]))
    if not matches:
        known = ", ".join(repr(n) for n in names) or "none"
        raise ctx.fail(apps_key, "applications", f"no application named {_show(app)} (applications: {known})")
    if len(matches) > 1:
        i, _, name_node = matches[1]
        first = matches[0][2].start_mark.line + 1
        raise ctx.fail(name_node, f"applications[{i}].name",
                       f"application {app!r} is defined more than once (first on line {first})")
    index, app_node, _ = matches[0]
    base = f"applications[{index}]"
    if counts.get(id(app_node), 0) > 1 or _has_merge(app_node):
        raise ctx.fail(app_node, base, "the application uses YAML anchors, aliases or merge keys; edit it by hand")
    git = _single(ctx, app_node, "git", base)
    if git is None or not isinstance(git[1], yaml.MappingNode):
        raise ctx.fail(git[1] if git else app_node, f"{base}.git",
                       f"application {app!r} has no git mapping to write the hash into")
    git_node = git[1]
    gpath = f"{base}.git"
    if counts.get(id(git_node), 0) > 1 or _has_merge(git_node):
        raise ctx.fail(git_node, gpath, "the git mapping uses YAML anchors, aliases or merge keys; edit it by hand")
    if not git_node.value:
        raise ctx.fail(git_node, gpath, "the git mapping is empty")

    hash_pair = _single(ctx, git_node, "hash", gpath)
    pushed_pair = _single(ctx, git_node, "pushedAt", gpath)
    hash_span = _span(ctx, *hash_pair, f"{gpath}.hash", counts) if hash_pair else None
    pushed_span = _span(ctx, *pushed_pair, f"{gpath}.pushedAt", counts) if pushed_pair else None

    def current(pair):
        if pair is None or pair[1].tag == NULL_TAG or pair[1].value == "":
            return None
        return pair[1].value

    old_hash, old_pushed = current(hash_pair), current(pushed_pair)
    pushed_path = f"{gpath}.pushedAt"
    pushed_node = pushed_pair[1] if pushed_pair else None
    old_key = timestamp_key(old_pushed) if old_pushed is not None else None
    if old_pushed is not None and old_key is None and not force:
        raise ctx.fail(pushed_node, pushed_path, f"recorded pushedAt {old_pushed!r} is not an RFC 3339 UTC "
                                                 "timestamp; fix it by hand or use --force")
    new_key = timestamp_key(pushed_at) if pushed_at is not None else None

    set_hash = set_pushed = False
    if old_hash == sha:
        newer = old_key is None or (new_key is not None and new_key > old_key)
        if pushed_at is None or pushed_at == old_pushed or not (force or newer):
            return Outcome(False, text, f"{file}: {app}: already at {sha}")
        set_pushed = True
    else:
        if old_key is not None and not force:
            if new_key is None:
                raise ctx.fail(pushed_node, pushed_path,
                               f"application {app!r} records pushedAt {old_pushed}; give --pushed-at so that an "
                               "older build cannot roll it back (or --force for a deliberate rollback)")
            if new_key < old_key:
                raise ctx.fail(pushed_node, pushed_path,
                               f"refusing to roll {app!r} back: it is at {old_hash or 'no hash'}, pushed at "
                               f"{old_pushed}; {sha} was pushed earlier, at {pushed_at} "
                               "(use --force for a deliberate rollback)", EXIT_REFUSED)
            if new_key == old_key:
                raise ctx.fail(pushed_node, pushed_path,
                               f"refusing to replace {old_hash or 'no hash'} of {app!r} with {sha}: both were "
                               f"pushed at {pushed_at}, so which is newer is unknown (use --force to choose)",
                               EXIT_REFUSED)
        set_hash = True
        set_pushed = pushed_at is not None and pushed_at != old_pushed

    # ---- the edits: (start, end, text, order); inserts at one offset apply in order
    edits: list[tuple[int, int, str, int]] = []
    hash_text = _render(sha, hash_span, _plain_is_string(sha))
    pushed_text = _render(pushed_at, pushed_span, pushed_span is not None and pushed_span.quote == ""
                          and not pushed_span.empty and old_pushed is not None) if set_pushed else ""
    flow = bool(git_node.flow_style)

    def replace(span: _Span, value: str, order: int) -> None:
        edits.append((span.start, span.end, f" {value}" if span.empty else value, order))

    def insert_after(key, span: _Span, lines: list[tuple[str, str]], order: int) -> None:
        """New `key: value` pairs right after the pair (key, span)."""
        if flow:
            edits.append((span.end, span.end, "".join(f", {k}: {v}" for k, v in lines), order))
            return
        eol = ctx.text.line_end(span.end)
        newline = ctx.text.break_at(eol)
        indent = " " * key.start_mark.column
        edits.append((eol, eol, "".join(f"{newline}{indent}{k}: {v}" for k, v in lines), order))

    new_lines: list[tuple[str, str]] = []
    if set_hash:
        if hash_span:
            replace(hash_span, hash_text, 0)
        else:
            new_lines.append(("hash", hash_text))
    if set_pushed:
        if pushed_span:
            replace(pushed_span, pushed_text, 1)
        elif hash_span:
            insert_after(hash_pair[0], hash_span, [("pushedAt", pushed_text)], 2)
        else:
            new_lines.append(("pushedAt", pushed_text))
    if new_lines:  # `hash` is missing: add it after the last pair written on one line
        anchor = None
        for key, value in reversed(git_node.value):
            try:
                anchor = (key, _span(ctx, key, value, "", counts))
            except BumpError:
                continue
            if not (flow and anchor[1].empty):
                break
            anchor = None
        if anchor is None:
            raise ctx.fail(git_node, gpath, "cannot find where to add the hash key; add `hash: ~` under git by hand")
        insert_after(*anchor, new_lines, 3)

    edits.sort(key=lambda e: (e[0], e[3]))
    out, pos = [], 0
    for start, end, new, _ in edits:
        if start < pos:  # cannot happen: replacements and inserts are at distinct places
            raise ctx.fail(git_node, gpath, "internal error: overlapping edits; nothing was written")
        out += (body[pos:start], new)
        pos = end
    out.append(body[pos:])
    new_body = "".join(out)

    _verify(ctx, root, counts, git_node, new_body, hash_text if set_hash else None,
            pushed_text if set_pushed else None, sha)
    if set_hash:
        message = f"{file}: {app}: {old_hash or 'no hash'} -> {sha}"
        if set_pushed:
            message += f" (pushed {pushed_at})"
    else:
        message = f"{file}: {app}: already at {sha}; pushedAt {old_pushed or 'none'} -> {pushed_at}"
    return Outcome(True, bom + new_body, message)


def _verify(ctx: _Ctx, root, counts, git_node, new_body: str, hash_text: str | None,
            pushed_text: str | None, sha: str) -> None:
    """Parse the result again: it must equal the original but for the two values, or nothing is written."""
    failure = ctx.fail(None, "", "internal error: the edit would change more than the hash; "
                                 "nothing was written (please report this file)")
    changes = {}
    try:
        if hash_text is not None:
            changes[("s", STR_TAG, "hash")] = _scalar_canon(hash_text)
        if pushed_text is not None:
            changes[("s", STR_TAG, "pushedAt")] = _scalar_canon(pushed_text)
    except yaml.YAMLError:
        raise failure from None
    if changes.get(("s", STR_TAG, "hash"), ("s", STR_TAG, sha)) != ("s", STR_TAG, sha):
        raise failure

    def edit(pairs):
        kept = [(k, v) for k, v in pairs if k not in changes]
        return kept + list(changes.items())

    try:
        new_root = _compose(ctx, new_body)
    except BumpError:
        raise failure from None
    expected = _canon(root, counts, {id(git_node): edit})
    if _canon(new_root, _refcounts(new_root)) != expected:
        raise failure


# --------------------------------------------------------------------------- the file


def _check_inside_repository(path: str, real: str, display: str) -> None:
    """Refuse a file that resolves (through a symbolic link, of the file or of a directory) to a
    place outside its repository: the git work tree holding `path` (the nearest directory above it
    with a `.git`), or without one, the file's own directory."""
    start = os.path.dirname(os.path.abspath(path))
    root = start
    while not os.path.lexists(os.path.join(root, ".git")):
        parent = os.path.dirname(root)
        if parent == root:
            root = start
            break
        root = parent
    root = os.path.realpath(root)
    if os.path.commonpath([root, real]) != root:
        raise BumpError(Problem(display, 0, 0, "", f"leads outside its repository {root} (to {real}); "
                                                   "refusing to edit it, nothing was written"))


def _lock(real: str, display: str, timeout: float) -> int:
    """An fd of the current file at `real`, exclusively flocked; retries if the file was replaced."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fd = os.open(real, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOFOLLOW)
        except FileNotFoundError:
            raise BumpError(Problem(display, 0, 0, "", "no such file")) from None
        except OSError as exc:
            raise BumpError(Problem(display, 0, 0, "", f"cannot open: {exc.strerror or exc}")) from None
        keep = False
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise BumpError(Problem(display, 0, 0, "", "not a regular file"))
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise BumpError(Problem(display, 0, 0, "", f"gave up after {timeout:g}s waiting for "
                                                                   "another bump of this file")) from None
                    time.sleep(0.005)
            try:
                now = os.stat(real)
            except FileNotFoundError:
                raise BumpError(Problem(display, 0, 0, "", "no such file (removed while waiting)")) from None
            if (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino):
                keep = True
                return fd
            # Another bump replaced the file while we waited: lock the new one.
        finally:
            if not keep:
                os.close(fd)


def _read(fd: int, display: str) -> str:
    chunks, size = [], 0
    while True:
        chunk = os.pread(fd, 65536, size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BYTES:
            raise BumpError(Problem(display, 0, 0, "", f"file is larger than {MAX_BYTES} bytes (1 MiB)"))
    data = b"".join(chunks)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise BumpError(Problem(display, line, col, "", f"not valid UTF-8 (byte 0x{data[exc.start]:02x})")) from None


def _write_atomic(real: str, data: bytes, like: os.stat_result) -> None:
    """Replace real with data: temp file beside it, same mode (and owner if allowed), fsync, rename."""
    directory, base = os.path.split(real)
    fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=".bump", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), stat.S_IMODE(like.st_mode))
            if (like.st_uid, like.st_gid) != (os.geteuid(), os.getegid()):
                try:
                    os.fchown(fh.fileno(), like.st_uid, like.st_gid)
                except OSError:
                    pass
            os.fsync(fh.fileno())
        os.replace(tmp, real)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


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
    check_arguments(display, sha, pushed_at, _now())
    real = os.path.realpath(path)
    _check_inside_repository(path, real, display)
    try:
        if not stat.S_ISREG(os.stat(real).st_mode):
            raise BumpError(Problem(display, 0, 0, "", "not a regular file"))
    except FileNotFoundError:
        raise BumpError(Problem(display, 0, 0, "", "no such file")) from None
    except OSError as exc:
        raise BumpError(Problem(display, 0, 0, "", f"cannot read: {exc.strerror or exc}")) from None
    fd = _lock(real, display, lock_timeout)
    try:
        text = _read(fd, display)
        outcome = plan_bump(text, display, app, sha, pushed_at, force)
        if not outcome.changed:
            return outcome
        problems = list((validate or _schema_validator(display))(outcome.text, display))
        if problems:
            problems.append(Problem(display, 0, 0, "", "not changed: the result would not pass the project schema"))
            raise BumpError(problems)
        try:
            _write_atomic(real, outcome.text.encode("utf-8"), os.fstat(fd))
        except OSError as exc:
            raise BumpError(Problem(display, 0, 0, "", f"cannot write: {exc.strerror or exc}")) from None
        return outcome
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cmp-render bump", allow_abbrev=False,
        description="Set applications[name=APP].git.hash in a project file, in place and forward only.",
        epilog="Exit status: 0 bumped or already there, 1 error, 2 usage, 3 refused: the build is not newer "
               "than the one recorded (see docs/ci-loop.md).")
    parser.add_argument("project_file", metavar="PROJECT_FILE", help="projects/<name>.yaml")
    parser.add_argument("app", metavar="APP", help="name of the application in the file")
    parser.add_argument("sha", metavar="SHA", help="full commit id: 40 lowercase hex characters")
    parser.add_argument("--pushed-at", metavar="RFC3339",
                        help="time of the push that produced SHA, RFC 3339 with Z or an offset, e.g. "
                             "2026-11-27T03:04:05Z or 2026-11-27T12:04:05+09:00; recorded in UTC as "
                             f"git.pushedAt; one older than recorded, or more than {_SKEW_TEXT} ahead of the "
                             "clock, is refused")
    parser.add_argument("--force", action="store_true",
                        help="skip the forward-only check (a deliberate rollback)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse already printed usage/help
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        outcome = bump_file(args.project_file, args.app, args.sha, pushed_at=args.pushed_at, force=args.force)
    except BumpError as exc:
        for problem in exc.problems:
            print(problem.format(), file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print(f"{args.project_file}: error: interrupted; nothing was written", file=sys.stderr)
        return 130
    except Exception as exc:  # never a traceback
        print(printable(f"{args.project_file}: error: internal error ({type(exc).__name__}); nothing was written"),
              file=sys.stderr)
        return EXIT_ERROR
    print(outcome.message)
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
