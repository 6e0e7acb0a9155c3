"""Placeholder syntax: finding `<path:PATH#KEY[#VERSION] | mods>` and generic `<KEY | mods>`.

A placeholder never spans lines. Inline placeholders are found anywhere (`<path:` up to the
first `>` on the line); anything that starts like one but is not complete is reported as
malformed, so no `<path:` text can slip through unresolved.

Generic placeholders (only in documents with the `avp.kubernetes.io/path` annotation) are
argocd-vault-plugin's: every `<...>` on one line (from a `<` to the first `>` after it) is one,
its key the text before the first `|` with spaces trimmed (`<  key | base64encode >` reads
`key`). So `a < b > c` needs the key `b` in Vault, as in AVP, and fails without it: nothing
between `<` and `>` is ever passed through unresolved in an annotated document.
"""

from __future__ import annotations

import re
from collections import namedtuple

_INLINE = r"<[ \t]*path:[^>\n]*>"
# How an inline placeholder starts. project.schema.json refuses it in project values with the same
# lookahead, `(?!<[ \t]*path:)` (tests keep the two equal).
OPEN = r"<[ \t]*path:"
_GENERIC = r"<[^\n]*?>"  # AVP: (?mU)<(.*)>

INLINE_OR_OPEN = re.compile(f"(?P<inline>{_INLINE})|(?P<open>{OPEN})")
WITH_GENERIC = re.compile(f"(?P<inline>{_INLINE})|(?P<open>{OPEN})|(?P<generic>{_GENERIC})")
_HEAD = re.compile(r"path:(?P<path>[^#]+)#(?P<key>[^#]+)(?:#(?P<version>.*))?", re.S)
_EMBEDDED = re.compile(r"path:[^#]+#[^#]")  # AVP would read `<x path:P#K>` as an inline placeholder


# One placeholder occurrence. kind: inline, generic or malformed; name: AVP's PH (`path:P#K[#V]`
# or the generic KEY); stages: the modifier texts; error: why a malformed token is malformed.
Token = namedtuple("Token", "text start end kind name path key version stages error",
                   defaults=("", "", "", "", (), ""))


def scan(text: str, generic: bool) -> list[Token]:
    """Every placeholder in `text`, left to right."""
    pattern = WITH_GENERIC if generic else INLINE_OR_OPEN
    return [_token(m) for m in pattern.finditer(text)]


def has_placeholder(text: str, generic: bool) -> bool:
    if not generic:  # every inline placeholder, complete or not, holds "path:": a cheap first test
        return "path:" in text and INLINE_OR_OPEN.search(text) is not None
    return WITH_GENERIC.search(text) is not None


def vault_paths(text: str) -> list[str]:
    """The Vault path of every complete inline placeholder in `text`, as written."""
    return [token.path for token in scan(text, False) if token.kind == "inline"] if "path:" in text else []


def _token(m: re.Match) -> Token:
    text = m.group(0)
    if m.lastgroup == "open":
        line_end = m.string.find("\n", m.start())
        rest = m.string[m.start(): line_end if line_end >= 0 else len(m.string)]
        return Token(_short(rest), m.start(), m.end(), "malformed", error="no closing > on the same line")
    if m.lastgroup == "generic":
        head, *stages = text.strip("<>").split("|")  # AVP: strings.Trim(match, "<>"), then Trim(" ")
        head = head.strip(" ")
        if head.startswith("path:"):  # `< path:...>`, as AVP reads it in annotated documents
            return _inline(text, m, head, stages)
        if _EMBEDDED.search(head):
            return Token(text, m.start(), m.end(), "malformed",
                         error="text before path: (write the placeholder as <path:PATH#KEY>)")
        return Token(text, m.start(), m.end(), "generic", name=head, key=head, stages=tuple(stages))
    head, *stages = text[1:-1].strip().split("|")
    return _inline(text, m, head.strip(), stages)


def _inline(text: str, m: re.Match, head: str, stages: list) -> Token:
    parsed = _HEAD.fullmatch(head)
    if not parsed or not parsed["key"].strip() or (parsed["version"] is not None and not parsed["version"].strip()):
        return Token(text, m.start(), m.end(), "malformed",
                     error="expected <path:PATH#KEY> or <path:PATH#KEY#VERSION>")
    return Token(text, m.start(), m.end(), "inline", name=head, path=parsed["path"],
                 key=parsed["key"].strip(), version=(parsed["version"] or "").strip(), stages=tuple(stages))


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
