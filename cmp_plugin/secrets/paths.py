"""Which Vault paths a project may read.

A path is read verbatim (`GET /v1/<PATH>`), so it is checked as text before any request:
plain characters only (no `%`, `?`, `#`, `\\`, blanks), no empty, `.` or `..` segments, no
leading `/`, and strictly under the project's prefix: `kv/data/shop` allows
`kv/data/shop/db` but not `kv/data/shop` itself nor `kv/data/shopping/x`.
"""

from __future__ import annotations

import re

_ALLOWED = re.compile(r"[A-Za-z0-9_.\-/@+=,:~]+")
_VERSION = re.compile(r"[1-9][0-9]{0,9}")


def path_problems(path: str, prefix: str, validation: re.Pattern | None, project: str = "") -> list[tuple[str, str]]:
    """(rule, message) for each rule `path` breaks; empty when it may be read."""
    if not _ALLOWED.fullmatch(path):
        bad = sorted({c for c in path if not _ALLOWED.fullmatch(c)})
        shown = ", ".join(repr(c) for c in bad[:5])
        return [("vault-path-syntax",
                 f"the path {path!r} contains characters that are not allowed in a Vault path here ({shown})")]
    if path.startswith("/") or path.endswith("/"):
        return [("vault-path-syntax", f"the path {path} must not start or end with /")]
    segments = path.split("/")
    if any(s in ("", ".", "..") for s in segments):
        return [("vault-path-syntax", f"the path {path} must not contain empty, . or .. segments")]
    problems = []
    if not path.startswith(prefix + "/"):
        whose = f"project {project}'s" if project else "this project's"
        problems.append(("vault-prefix", f"the path {path} is outside {whose} Vault prefix {prefix}/"))
    if validation is not None and not validation.search(path):
        problems.append(("AVP_PATH_VALIDATION",
                         f"the path {path} is disallowed by AVP_PATH_VALIDATION restriction"))
    return problems


def version_problem(version: str) -> str:
    """'' when `version` is a KV v2 version number."""
    if _VERSION.fullmatch(version):
        return ""
    return f"invalid secret version {version!r}: expected a positive integer"


def prefix_problem(prefix: str) -> str:
    if not prefix or not _ALLOWED.fullmatch(prefix) or prefix.startswith("/") or prefix.endswith("/") \
            or any(s in ("", ".", "..") for s in prefix.split("/")):
        return f"invalid Vault prefix {prefix!r} for this project (CMP_VAULT_PREFIX)"
    return ""
