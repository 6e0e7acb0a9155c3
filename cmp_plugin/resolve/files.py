"""Which files `cmp-render resolve PATH` reads, in argocd-vault-plugin's order, and reading them.

AVP (cmd/util.go, listFiles) walks PATH with Go's filepath.Walk: PATH itself, then every entry
below it, depth first, each directory's entries sorted by name (byte order); it takes every path
ending in `.yaml`, `.yml` or `.json`. Symlinked directories are not followed. Files are read in
that order and their documents concatenated. `-` is standard input.

Unlike AVP: with a `root` (the repository Argo CD unpacked), a file whose real path leaves it
is refused; non-regular files (FIFOs, devices) are refused, never waited on.
"""

from __future__ import annotations

import os
import stat
import sys

from cmp_plugin.problems import Problem
from cmp_plugin.resolve.goyaml import ManifestError, load_documents

SUFFIXES = (".yaml", ".yml", ".json")
MAX_BYTES = 32 * 1024 * 1024  # per file; the largest CRD bundles are a few MiB
STDIN = "-"


class Source:
    """One document and where it came from."""

    __slots__ = ("doc", "file", "line")

    def __init__(self, doc, file: str, line: int):
        self.doc, self.file, self.line = doc, file, line


def list_files(path: str) -> list[str]:
    """AVP's listFiles: `path` and everything below it that ends in .yaml, .yml or .json."""
    found = []

    def walk(p: str) -> None:
        if os.path.splitext(p)[1] in SUFFIXES:
            found.append(p)
        try:
            if stat.S_ISDIR(os.lstat(p).st_mode):
                for name in sorted(os.listdir(p), key=os.fsencode):
                    walk(os.path.join(p, name))
        except OSError:
            pass  # as filepath.Walk with AVP's callback: unreadable directories are skipped

    walk(path)
    return found


def _inside(path: str, root: str) -> bool:
    real = os.path.realpath(path)
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def read_text(path: str, display: str, root: str | None = None) -> tuple[str | None, Problem | None]:
    if root is not None and not _inside(path, os.path.realpath(root)):
        return None, Problem(display, 0, 0, "", "cannot read: it is a symlink to a file outside the repository", "io")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        return None, Problem(display, 0, 0, "", f"cannot read: {(exc.strerror or type(exc).__name__).lower()}", "io")
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None, Problem(display, 0, 0, "", "cannot read: not a regular file", "io")
        os.set_blocking(fd, True)
        with os.fdopen(os.dup(fd), "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        return None, Problem(display, 0, 0, "", f"cannot read: {(exc.strerror or type(exc).__name__).lower()}", "io")
    finally:
        os.close(fd)
    if len(data) > MAX_BYTES:
        return None, Problem(display, 0, 0, "", f"cannot read: larger than {MAX_BYTES // (1024 * 1024)} MiB", "io")
    return _decode(data, display)


def _decode(data: bytes, display: str) -> tuple[str | None, Problem | None]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        return None, Problem(display, line, col, "", f"not valid UTF-8 (byte 0x{data[exc.start]:02x})", "encoding")
    return text.removeprefix("\ufeff"), None


def parse(text: str, display: str) -> tuple[list[Source], list[Problem]]:
    """The Kubernetes objects in one file's text; every document must be a map with a `kind`."""
    try:
        docs = load_documents(text)
    except ManifestError as exc:
        return [], [Problem(display, exc.line, exc.col, "", str(exc), "syntax")]
    sources, problems = [], []
    for number, (doc, line) in enumerate(docs, 1):
        if not isinstance(doc, dict):
            problems.append(Problem(display, line, 1, "", f"document {number} is not a Kubernetes object (a map)",
                                    "syntax"))
        elif not isinstance(doc.get("kind"), str) or not doc["kind"]:
            problems.append(Problem(display, line, 1, "", f"Object 'Kind' is missing in document {number}", "syntax"))
        else:
            sources.append(Source(doc, display, line))
    return sources, problems


def read_inputs(paths: list[str], *, stdin=None, root: str | None = None) -> tuple[list[Source], list[Problem]]:
    """Every document of every PATH, in order; problems for what cannot be read or parsed."""
    sources: list[Source] = []
    problems: list[Problem] = []
    for path in paths:
        if path == STDIN:
            data = (stdin or sys.stdin.buffer).read()
            text, problem = _decode(data if isinstance(data, bytes) else data.encode(), "<stdin>")
            if problem:
                problems.append(problem)
                continue
            found, bad = parse(text, "<stdin>")
            sources += found
            problems += bad
            continue
        files = list_files(path)
        if not files:
            missing = "" if os.path.lexists(path) else " (it does not exist)"
            problems.append(Problem(path, 0, 0, "", f"no YAML or JSON files were found in {path}{missing}", "io"))
            continue
        for file in files:
            text, problem = read_text(file, file, root)
            if problem:
                problems.append(problem)
                continue
            found, bad = parse(text, file)
            sources += found
            problems += bad
    return sources, problems
