"""Stage 1, load: bytes of a project file -> plain Python data, plus where each value stands.

PyYAML composes the node tree (C parser when available); this module builds the values
itself so that it can refuse what `yaml.safe_load` lets through: duplicate keys, alias
expansion bombs, several documents, oversized or non-UTF-8 input.

A file in the plain subset of YAML that `fastyaml` reads (most project files) is read by it
instead, and PyYAML, which costs more to import than a whole render, is not loaded at all;
where each value stands is then read with PyYAML only when a problem needs a position.
"""

from __future__ import annotations

import os
import stat

from cmp_plugin import fastyaml
from cmp_plugin.problems import Problem, format_path

MAX_BYTES = 1024 * 1024
MAX_NODES = 20_000  # values built after alias expansion; a real project file has a few hundred
MAX_DEPTH = 64

_COLLECTION_TAGS = {"tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"}
_STR_TAGS = {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:binary"}  # keep as written text


Path = tuple  # of str | int


class Loaded:
    """The value of a file, where each part of it stands, and what went wrong reading it."""

    def __init__(self, file: str):
        self.file = file
        self.value = None
        self._places: dict = {}  # Path -> (line, col) of the value
        self._key_places: dict = {}  # Path -> (line, col) of the mapping key
        self.problems: list = []
        self._unplaced: str | None = None  # text read by fastyaml, whose positions are not known yet

    @property
    def places(self) -> dict:
        self._place_values()
        return self._places

    @property
    def key_places(self) -> dict:
        self._place_values()
        return self._key_places

    def _place_values(self) -> None:
        if self._unplaced is not None:  # PyYAML reads the same value, with its positions
            text, self._unplaced = self._unplaced, None
            full = Loaded(self.file)
            _load_text(text, full)
            self._places, self._key_places = full._places, full._key_places

    def place(self, path: Path, key: bool = False) -> tuple[int, int]:
        """Best known position for path: its key or value, else the nearest ancestor."""
        path = tuple(path)
        while True:
            if key and path in self.key_places:
                return self.key_places[path]
            if path in self.places:
                return self.places[path]
            if not path:
                return (1, 1)
            path = path[:-1]

    def problem(self, path: Path, message: str, rule: str, key: bool = False) -> Problem:
        line, col = self.place(path, key)
        return Problem(self.file, line, col, format_path(path), message, rule)


class _TooBig(Exception):
    pass


def load_bytes(data: bytes, file: str) -> Loaded:
    """Parse one YAML document; every problem is collected in Loaded.problems."""
    out = Loaded(file)
    text, problem = decode(data, file)
    if problem is not None:
        out.problems.append(problem)
        return out
    if text.startswith("\ufeff"):
        text = text[1:]
    fast = _fast_value(text)
    if fast is not None:
        out.value = fast[0]
        out._unplaced = text
        return out
    _load_text(text, out)
    return out


def decode(data: bytes, file: str) -> tuple[str | None, Problem | None]:
    """The text of a file's bytes, or the one problem: over MAX_BYTES, or not UTF-8."""
    if len(data) > MAX_BYTES:
        return None, Problem(file, 1, 1, "", f"file is {len(data)} bytes; the limit is {MAX_BYTES} (1 MiB)", "size")
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        return None, Problem(file, line, col, "", f"not valid UTF-8 (byte 0x{data[exc.start]:02x})", "encoding")


def _fast_value(text: str) -> tuple | None:
    """(value,) of a file in fastyaml's subset that loads without a problem, else None: PyYAML
    then reads it and reports what is wrong. The subset has no tags, anchors, merge keys or
    duplicate keys; several documents, or too many or too deeply nested values, are PyYAML's too."""
    try:
        value = fastyaml.load_one(text)
    except fastyaml.Unsupported:
        return None
    count = [0]

    def walk(node, depth):
        count[0] += 1
        if depth > MAX_DEPTH or count[0] > MAX_NODES:
            raise fastyaml.Unsupported("too big")
        if isinstance(node, (dict, list)):
            for item in node.values() if isinstance(node, dict) else node:
                walk(item, depth + 1)

    try:
        if value is not None:
            walk(value, 0)
    except (fastyaml.Unsupported, RecursionError):
        return None
    return (value,)


def _load_text(text: str, out: Loaded) -> None:
    """PyYAML's reading of the text into out: value, positions and problems."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        node = loader.get_single_node()
    except yaml.composer.ComposerError as exc:
        if "expected a single document" in str(exc):
            mark = exc.problem_mark
            out.problems.append(Problem(out.file, mark.line + 1, mark.column + 1, "",
                                        "expected one YAML document, found more", "syntax"))
        else:
            out.problems.append(yaml_problem(exc, out.file, text))
        return
    except yaml.YAMLError as exc:
        out.problems.append(yaml_problem(exc, out.file, text))
        return
    finally:
        loader.dispose()
    if node is None:
        return
    budget = [MAX_NODES]
    try:
        out.value = _build(node, (), out, loader, budget, 0)
    except _TooBig as exc:
        out.problems.append(Problem(out.file, 1, 1, "", str(exc), "aliases"))
        out.value = None


def yaml_problem(exc, file: str, text: str = "") -> Problem:
    """The problem for PyYAML's error exc while reading text."""
    import yaml

    if isinstance(exc, yaml.reader.ReaderError):  # a control character; the C reader gives no mark
        pos = exc.position
        line = text.count("\n", 0, pos) + 1
        col = pos - (text.rfind("\n", 0, pos) + 1) + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        return Problem(file, line, col, "", f"YAML syntax: control character U+{code:04X} is not allowed", "syntax")
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    text = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = f"{context}, {text}" if context else text
    return Problem(file, line, col, "", f"YAML syntax: {' '.join(message.split())}", "syntax")


def _mark(node) -> tuple[int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def _build(node, path: Path, out: Loaded, loader, budget: list, depth: int):
    import yaml

    budget[0] -= 1
    if budget[0] < 0:
        raise _TooBig(f"more than {MAX_NODES} values after expanding aliases (an alias bomb?)")
    if depth > MAX_DEPTH:
        raise _TooBig(f"nested deeper than {MAX_DEPTH} levels")
    out.places.setdefault(path, _mark(node))
    if isinstance(node, yaml.ScalarNode):
        if node.tag in _STR_TAGS:
            return node.value
        try:
            return loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, KeyError, TypeError) as exc:  # e.g. `!!int abc`
            reason = getattr(exc, "problem", None) or f"{node.value!r} is not a valid {node.tag.rsplit(':', 1)[-1]}"
            out.problems.append(Problem(out.file, *_mark(node), format_path(path), f"YAML: {reason}", "syntax"))
            return None
    if node.tag not in _COLLECTION_TAGS:  # `!!set`, `!!python/...`: the safe loader would drop or refuse them
        out.problems.append(Problem(out.file, *_mark(node), format_path(path),
                                    f"YAML: the tag {node.tag!r} is not allowed here; remove it", "syntax"))
        return None
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, path + (i,), out, loader, budget, depth + 1) for i, item in enumerate(node.value)]
    if isinstance(node, yaml.MappingNode):
        result: dict = {}
        merged: list = []
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                merged.append(value_node)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                out.problems.append(Problem(out.file, *_mark(key_node), format_path(path), "mapping keys must be plain strings", "syntax"))
                continue
            key = key_node.value
            if key in result:
                first = out.key_places.get(path + (key,), (0, 0))[0]
                out.problems.append(Problem(out.file, *_mark(key_node), format_path(path + (key,)),
                                            f"duplicate key {key!r} (first defined on line {first})", "duplicate-key"))
                continue
            out.key_places[path + (key,)] = _mark(key_node)
            result[key] = _build(value_node, path + (key,), out, loader, budget, depth + 1)
        for value_node in merged:  # YAML merge keys (<<): explicit keys win
            sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            for src in sources:
                value = _build(src, path, out, loader, budget, depth + 1)
                if isinstance(value, dict):
                    for k, v in value.items():
                        result.setdefault(k, v)
        return result
    raise _TooBig(f"unsupported YAML node {node!r}")  # pragma: no cover - PyYAML has only three kinds


def read_file(path: str, display: str) -> tuple[bytes | None, Problem | None]:
    """The first MAX_BYTES + 1 bytes of a regular file, or the one I/O problem: `FILE: error: cannot read: ...`.

    Opened non-blocking and checked with fstat, so a FIFO or a device is refused instead of
    blocking the run or streaming forever.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        return None, io_problem(display, exc.strerror or type(exc).__name__)
    try:
        return read_fd(fd, display)
    finally:
        os.close(fd)


def read_fd(fd: int, display: str) -> tuple[bytes | None, Problem | None]:
    """read_file's reading, of a file already open at fd (read from its current offset)."""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None, io_problem(display, "not a regular file")
        os.set_blocking(fd, True)
        chunks, size = [], 0
        while size <= MAX_BYTES:
            chunk = os.read(fd, MAX_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks), None
    except OSError as exc:
        return None, io_problem(display, exc.strerror or type(exc).__name__)


def io_problem(display: str, reason: str) -> Problem:
    """The one format of an I/O problem: the file, no position (there is none), the reason."""
    return Problem(display, 0, 0, "", f"cannot read: {reason}", "io")


def load_file(path: str, display: str | None = None) -> Loaded:
    display = display or path
    data, problem = read_file(path, display)
    if problem is not None:
        out = Loaded(display)
        out.problems.append(problem)
        return out
    return load_bytes(data, display)
