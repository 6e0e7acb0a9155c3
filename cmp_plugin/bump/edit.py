"""The text edit: the new text of a project file with one application's `git.hash` (and
`git.pushedAt`) changed, and nothing else.

Not a YAML round trip: PyYAML composes the node tree, whose marks give the line and column of
every scalar; only the characters of the `hash`/`pushedAt` values change (or one line per missing
key is inserted under `git:` with the indentation of its siblings). Comments, key order, quoting,
indentation, CRLF line ends, a byte-order mark and a missing final newline all stay as they were.
The result is parsed again and compared, node by node, with the original: if anything but the two
values differs, the edit is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

import yaml

from cmp_plugin.bump.policy import (EXIT_ERROR, EXIT_USAGE, BumpError, Current, Decision, Request,
                                    check_arguments, decide, show, utc_timestamp)
from cmp_plugin.load import yaml_problem
from cmp_plugin.problems import Problem

_BREAK_RE = re.compile("\r\n|[\r\n\x85\u2028\u2029]")  # YAML 1.1 line breaks, as PyYAML and libyaml count lines
_BREAK_CHARS = "\r\n\x85\u2028\u2029"
_YAML12_NUMBER = re.compile(r"[0-9]+(?:[eE][-+]?[0-9]+)?")

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
NULL_TAG = "tag:yaml.org,2002:null"
STR_TAG = "tag:yaml.org,2002:str"
MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class Outcome:
    changed: bool
    text: str  # the new text of the file (the old one when not changed)
    message: str  # the one line printed on success


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


def _compose(file: str, text: str):
    loader = _Loader(text)
    try:
        return loader.get_single_node()
    except yaml.YAMLError as exc:
        raise BumpError(_yaml_error(exc, file, text)) from None
    except RecursionError:
        raise BumpError(Problem(file, 0, 0, "", "YAML nested too deeply")) from None
    finally:
        loader.dispose()


def _yaml_error(exc: yaml.YAMLError, file: str, text: str) -> Problem:
    """The loader's problem for a YAML error, in its words; never the exception's own text."""
    if "expected a single document" in str(getattr(exc, "context", "")):
        mark = exc.problem_mark
        return Problem(file, mark.line + 1, mark.column + 1, "", "YAML syntax: expected one YAML document, found more")
    if isinstance(exc, yaml.reader.ReaderError) or getattr(exc, "problem", None):
        return yaml_problem(exc, file, text)
    return Problem(file, 0, 0, "", "YAML syntax: the file cannot be parsed")


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


# --------------------------------------------------------------------------- where to write


@dataclass
class _Target:
    """The application's git mapping, its `hash` and `pushedAt` pairs and their exact characters."""

    git: yaml.MappingNode
    path: str  # applications[i].git
    hash_pair: tuple | None
    pushed_pair: tuple | None
    hash_span: _Span | None
    pushed_span: _Span | None

    @property
    def pushed_node(self):
        return self.pushed_pair[1] if self.pushed_pair else None

    def current(self) -> Current:
        return Current(_recorded(self.hash_pair), _recorded(self.pushed_pair))


def _recorded(pair) -> str | None:
    if pair is None or pair[1].tag == NULL_TAG or pair[1].value == "":
        return None
    return pair[1].value


def _application(ctx: _Ctx, root, app: str) -> tuple[int, yaml.MappingNode]:
    """The index and node of the one application named app."""
    apps = _single(ctx, root, "applications", "")
    if apps is None:
        raise ctx.fail(None, "applications", f"no application named {show(app)}: the file has no applications")
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
        raise ctx.fail(apps_key, "applications", f"no application named {show(app)} (applications: {known})")
    if len(matches) > 1:
        i, _, name_node = matches[1]
        first = matches[0][2].start_mark.line + 1
        raise ctx.fail(name_node, f"applications[{i}].name",
                       f"application {app!r} is defined more than once (first on line {first})")
    return matches[0][0], matches[0][1]


def _target(ctx: _Ctx, root, app: str, counts: dict[int, int]) -> _Target:
    """Where app's hash goes; refuses anchors, merge keys, duplicates and values it cannot edit."""
    index, app_node = _application(ctx, root, app)
    base = f"applications[{index}]"
    if counts.get(id(app_node), 0) > 1 or _has_merge(app_node):
        raise ctx.fail(app_node, base, "the application uses YAML anchors, aliases or merge keys; edit it by hand")
    git = _single(ctx, app_node, "git", base)
    if git is None or not isinstance(git[1], yaml.MappingNode):
        raise ctx.fail(git[1] if git else app_node, f"{base}.git",
                       f"application {app!r} has no git mapping to write the hash into")
    git_node, gpath = git[1], f"{base}.git"
    if counts.get(id(git_node), 0) > 1 or _has_merge(git_node):
        raise ctx.fail(git_node, gpath, "the git mapping uses YAML anchors, aliases or merge keys; edit it by hand")
    if not git_node.value:
        raise ctx.fail(git_node, gpath, "the git mapping is empty")
    hash_pair = _single(ctx, git_node, "hash", gpath)
    pushed_pair = _single(ctx, git_node, "pushedAt", gpath)
    hash_span = _span(ctx, *hash_pair, f"{gpath}.hash", counts) if hash_pair else None
    pushed_span = _span(ctx, *pushed_pair, f"{gpath}.pushedAt", counts) if pushed_pair else None
    return _Target(git_node, gpath, hash_pair, pushed_pair, hash_span, pushed_span)


# --------------------------------------------------------------------------- the splice


class _Splice:
    """Edits of the text as (start, end, new text, order); inserts at one offset apply in order."""

    def __init__(self, ctx: _Ctx, flow: bool):
        self.ctx, self.flow = ctx, flow
        self.edits: list[tuple[int, int, str, int]] = []

    def replace(self, span: _Span, value: str, order: int) -> None:
        self.edits.append((span.start, span.end, f" {value}" if span.empty else value, order))

    def insert_after(self, key, span: _Span, lines: list[tuple[str, str]], order: int) -> None:
        """New `key: value` pairs right after the pair (key, span)."""
        if self.flow:
            self.edits.append((span.end, span.end, "".join(f", {k}: {v}" for k, v in lines), order))
            return
        eol = self.ctx.text.line_end(span.end)
        newline = self.ctx.text.break_at(eol)
        indent = " " * key.start_mark.column
        self.edits.append((eol, eol, "".join(f"{newline}{indent}{k}: {v}" for k, v in lines), order))

    def apply(self, body: str, target: _Target) -> str:
        out, pos = [], 0
        for start, end, new, _ in sorted(self.edits, key=lambda e: (e[0], e[3])):
            if start < pos:  # cannot happen: replacements and inserts are at distinct places
                raise self.ctx.fail(target.git, target.path, "internal error: overlapping edits; nothing was written")
            out += (body[pos:start], new)
            pos = end
        out.append(body[pos:])
        return "".join(out)


def _last_one_line_pair(ctx: _Ctx, target: _Target, counts: dict[int, int], flow: bool) -> tuple:
    """The last pair of the git mapping written on one line: new keys go after it."""
    for key, value in reversed(target.git.value):
        try:
            span = _span(ctx, key, value, "", counts)
        except BumpError:
            continue
        if not (flow and span.empty):
            return key, span
    raise ctx.fail(target.git, target.path, "cannot find where to add the hash key; add `hash: ~` under git by hand")


def _splice(ctx: _Ctx, target: _Target, counts: dict[int, int], body: str,
            hash_text: str | None, pushed_text: str | None) -> str:
    """body with the values that are not None written in place, or added under git."""
    splice = _Splice(ctx, bool(target.git.flow_style))
    new_lines: list[tuple[str, str]] = []
    if hash_text is not None:
        if target.hash_span:
            splice.replace(target.hash_span, hash_text, 0)
        else:
            new_lines.append(("hash", hash_text))
    if pushed_text is not None:
        if target.pushed_span:
            splice.replace(target.pushed_span, pushed_text, 1)
        elif target.hash_span:
            splice.insert_after(target.hash_pair[0], target.hash_span, [("pushedAt", pushed_text)], 2)
        else:
            new_lines.append(("pushedAt", pushed_text))
    if new_lines:  # `hash` is missing: add it after the last pair written on one line
        splice.insert_after(*_last_one_line_pair(ctx, target, counts, splice.flow), new_lines, 3)
    return splice.apply(body, target)


# --------------------------------------------------------------------------- the plan


def plan_bump(text: str, file: str, app: str, sha: str, pushed_at: str | None = None,
              force: bool = False, clock: datetime | None = None) -> Outcome:
    """The new text of a project file with APP at SHA; pure (no I/O, no schema), `clock` the time
    for the future check (none without it). Raises BumpError."""
    check_arguments(file, sha, pushed_at)
    given = pushed_at
    if pushed_at is not None:  # compared as an instant, recorded in UTC
        pushed_at = utc_timestamp(pushed_at)
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    body = text[len(bom):]
    ctx = _Ctx(file, _Text(body))
    root = _compose(file, body)
    if not isinstance(root, yaml.MappingNode):
        raise ctx.fail(root, "", "expected a mapping with applications at the top level")
    counts = _refcounts(root)
    target = _target(ctx, root, app, counts)
    current = target.current()
    decision = decide(current, Request(app, sha, pushed_at, force, clock, given))
    if decision.refused:
        where = (None, "") if decision.code == EXIT_USAGE else (target.pushed_node, f"{target.path}.pushedAt")
        raise ctx.fail(*where, decision.refusal, decision.code)
    if not (decision.set_hash or decision.set_pushed):
        return Outcome(False, text, f"{file}: {app}: already at {sha}")
    hash_text = _render(sha, target.hash_span, _plain_is_string(sha)) if decision.set_hash else None
    pushed_text = None
    if decision.set_pushed:
        span = target.pushed_span
        plain = span is not None and span.quote == "" and not span.empty and current.pushed_at is not None
        pushed_text = _render(pushed_at, span, plain)
    new_body = _splice(ctx, target, counts, body, hash_text, pushed_text)
    _verify(ctx, root, counts, target.git, new_body, hash_text, pushed_text, sha)
    return Outcome(True, bom + new_body, _message(file, app, current, sha, pushed_at, decision))


def _message(file: str, app: str, current: Current, sha: str, pushed_at: str | None, decision: Decision) -> str:
    """The one line printed on success."""
    if not decision.set_hash:
        return f"{file}: {app}: already at {sha}; pushedAt {current.pushed_at or 'none'} -> {pushed_at}"
    message = f"{file}: {app}: {current.hash or 'no hash'} -> {sha}"
    return message + f" (pushed {pushed_at})" if decision.set_pushed else message


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
        new_root = _compose(ctx.file, new_body)
    except BumpError:
        raise failure from None
    expected = _canon(root, counts, {id(git_node): edit})
    if _canon(new_root, _refcounts(new_root)) != expected:
        raise failure


