"""Which Vault paths a run may read.

A path is read as written, less leading and trailing slashes (`GET /v1/<PATH>`, as AVP's
client does), so it is checked as text before any request: plain characters only (no `%`,
`?`, `#`, `\\`, blanks), no empty, `.` or `..` segments, and strictly under one of the allowed
prefixes: `kv/data/shop` allows
`kv/data/shop/db` but not `kv/data/shop` itself nor `kv/data/shopping/x`.
AVP_PATH_VALIDATION (argocd-vault-plugin's own check) comes first, with its wording.
"""

from __future__ import annotations

import re

_ALLOWED = re.compile(r"[A-Za-z0-9_.\-/@+=,:~]+")
_VERSION = re.compile(r"[1-9][0-9]{0,9}")


class Scope:
    """The prefixes a run may read below, or every path (`any_path`, an explicit setting).

    `whose` names the prefixes in messages (`project shop's Vault prefix`); `hint` says how to
    allow more. With a `refusal`, a run that needs Vault fails with it before any request.
    """

    __slots__ = ("prefixes", "whose", "hint", "any_path", "refusal")

    def __init__(self, prefixes: tuple[str, ...] = (), whose: str = "", hint: str = "", any_path: bool = False,
                 refusal: str = ""):
        self.prefixes = tuple(prefixes)
        self.whose = whose
        self.hint = hint
        self.any_path = any_path
        self.refusal = refusal  # why nothing at all may be read (a setting is missing or wrong)

    @classmethod
    def project(cls, prefix: str, project: str = "") -> "Scope":
        whose = f"project {project}'s Vault prefix" if project else "this project's Vault prefix"
        return cls((prefix,), whose)

    def problem(self, path: str) -> str:
        if self.any_path or any(path.startswith(p + "/") for p in self.prefixes):
            return ""
        shown = ", ".join(p + "/" for p in self.prefixes)
        return f"the path {path} is outside {self.whose} {shown}{self.hint}"

    def prefix_problems(self) -> list[str]:
        return [prefix_problem(p) for p in self.prefixes if prefix_problem(p)]


def canonical(path: str) -> str:
    """The path AVP's Vault client requests: it joins `/v1/` and the path with Go's path.Join,
    which drops leading and trailing slashes (`/kv/data/x` reads kv/data/x)."""
    return path.strip("/")


def path_problems(path: str, scope: Scope, validation: re.Pattern | None) -> list[tuple[str, str]]:
    """(rule, message) for each rule `path` breaks; empty when canonical(path) may be read."""
    problems = []
    if validation is not None and not validation.search(path):  # AVP checks the text as written
        problems.append(("AVP_PATH_VALIDATION", f"the path {path} is disallowed by AVP_PATH_VALIDATION restriction"))
    path = canonical(path)
    if not _ALLOWED.fullmatch(path):
        bad = sorted({c for c in path if not _ALLOWED.fullmatch(c)})
        shown = ", ".join(repr(c) for c in bad[:5])
        return problems + [("vault-path-syntax",
                            f"the path {path!r} contains characters that are not allowed in a Vault path here ({shown})")]
    if any(s in ("", ".", "..") for s in path.split("/")):
        return problems + [("vault-path-syntax", f"the path {path} must not contain empty, . or .. segments")]
    outside = scope.problem(path)
    if outside:
        problems.append(("vault-prefix", outside))
    return problems


def version_problem(version: str) -> str:
    """'' when `version` is a KV v2 version number."""
    if _VERSION.fullmatch(version):
        return ""
    return f"invalid secret version {version!r}: expected a positive integer"


def prefix_problem(prefix: str) -> str:
    if not prefix or not _ALLOWED.fullmatch(prefix) or prefix.startswith("/") or prefix.endswith("/") \
            or any(s in ("", ".", "..") for s in prefix.split("/")):
        return f"invalid Vault prefix {prefix!r}"
    return ""
