"""Stage 6, emit: objects -> multi-document YAML, byte-identical for the same input.

Order: by kind in the order Helm installs kinds (what a kind depends on comes first), then
by namespace and name. Keys keep template order; strings are ASCII-escaped.

The text is exactly what `yaml.dump_all(docs, Dumper=CSafeDumper, **DUMP_OPTIONS)` writes
(PyYAML's representer and resolver, libyaml 0.2.5's emitter). `dump` writes it directly for
what the render produces (mappings, lists, str, int, bool, None) and hands anything else to
PyYAML: other types, objects that appear twice (PyYAML writes anchors), keys that are not
simple (over 128 bytes or multi-line), multi-line strings that libyaml would single-quote,
strings long enough for libyaml to fold, and very deep nesting.
"""

from __future__ import annotations

from cmp_plugin.fastyaml import implicit_tag

KIND_ORDER = (
    "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "ServiceAccount", "Secret", "ConfigMap", "PersistentVolumeClaim", "Role", "RoleBinding",
    "Service", "StatefulSet", "Deployment", "EventBus", "EventSource", "Sensor", "WorkflowTemplate",
    "IngressRoute",
)
_RANK = {kind: rank for rank, kind in enumerate(KIND_ORDER)}

DUMP_OPTIONS = dict(sort_keys=False, explicit_start=True, default_flow_style=False, allow_unicode=False,
                    width=1_000_000)
# A line shorter than the width is never folded: strings longer than this (up to 10 characters
# per escaped character) and nesting deeper than this go to PyYAML.
_MAX_STRING = 50_000
_MAX_DEPTH = 100


def sort_key(doc: dict) -> tuple:
    kind = doc["kind"]
    meta = doc["metadata"]
    return (_RANK.get(kind, len(KIND_ORDER)), kind, meta.get("namespace", ""), meta["name"])


def emit(docs: list[dict]) -> str:
    return dump(sorted(docs, key=sort_key))


class _Unsupported(Exception):
    pass


def dump(docs: list) -> str:
    """yaml.dump_all(docs, Dumper=CSafeDumper, **DUMP_OPTIONS), written directly when it can be."""
    try:
        return _dump(docs)
    except (_Unsupported, RecursionError):
        return dump_with_pyyaml(docs)


def dump_with_pyyaml(docs: list) -> str:
    import yaml

    return yaml.dump_all(docs, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), **DUMP_OPTIONS)


def _dump(docs: list) -> str:
    out: list[str] = []
    for doc in docs:
        if type(doc) is not dict or not doc:
            raise _Unsupported("a document that is not a non-empty mapping")
        out.append("---")
        _block(doc, True, "", "", out, set(), 0)
    out.append("")
    return "\n".join(out)


# None and booleans as SafeRepresenter writes them; _block looks up only these types (a float
# 1.0 equals True as a key).
_CONSTANTS = {None: "null", True: "true", False: "false"}


def _block(value, in_map: bool, indent: str, first: str, out: list, seen: set, depth: int) -> None:
    """A non-empty mapping's entries (in_map) or sequence's items at `indent`; the first line
    starts with `first` instead (after a dash). One loop for both: an entry leads with `key:`, an
    item with `-`; a mapping's collections start on the next line (a sequence at the key's
    indent, as libyaml writes it), a sequence's on the dash's line."""
    if depth > _MAX_DEPTH:
        raise _Unsupported("deep nesting")
    deeper = indent + "  "
    prefix = first
    for item in (value.items() if in_map else value):
        if in_map:
            key, item = item  # the pair's last reference goes: the items iterator reuses it
            lead = _LEADS.get(key) if type(key) is str else None  # a subclass of str is PyYAML's business
            if lead is None:
                lead = _lead(key)
        else:
            lead = "-"
        kind = type(item)
        if kind is str:
            text = _SCALARS.get(item)
            out.append(f"{prefix}{lead} {text if text is not None else _string(item)}")
        elif kind is dict or kind is list:
            if id(item) in seen:
                raise _Unsupported("an object that appears twice")  # PyYAML: an anchor and an alias
            seen.add(id(item))
            if not item:
                out.append(f"{prefix}{lead} {{}}" if kind is dict else f"{prefix}{lead} []")
            elif in_map:
                out.append(prefix + lead)
                below = deeper if kind is dict else indent
                _block(item, kind is dict, below, below, out, seen, depth + 1)
            else:
                _block(item, kind is dict, deeper, f"{prefix}- ", out, seen, depth + 1)
        elif kind is int:
            out.append(f"{prefix}{lead} {item}")  # SafeRepresenter.represent_int: str(data)
        elif kind is bool or item is None:
            out.append(f"{prefix}{lead} {_CONSTANTS[item]}")
        else:
            raise _Unsupported(f"a {kind.__name__}")
        prefix = indent


# ---------------------------------------------------------------------------------------- scalars
# str -> its text as a block-context value, or as a simple key with its colon (the lead of its
# entry). Strings repeat across documents and renders; the caches hold only what templates and
# projects put in manifests.
_SCALARS: dict[str, str] = {}
_LEADS: dict[str, str] = {}
_CACHE_LIMIT = 50_000

# libyaml's analysis of a scalar (yaml_emitter_analyze_scalar), for the characters that reach it
# here: printable ASCII and line feeds. Everything else is a "special character" (with
# allow_unicode off, every non-ASCII character): the string is double-quoted.
_FIRST_INDICATORS = frozenset("#,[]{}&*!|>'\"%@`")


def _string(value: str) -> str:
    text = _style(value, key=False)
    if len(_SCALARS) < _CACHE_LIMIT:
        _SCALARS[value] = text
    return text


def _lead(key) -> str:
    if type(key) is not str:
        raise _Unsupported("a key that is not a string")
    text = _style(key, key=True) + ":"
    if len(_LEADS) < _CACHE_LIMIT:
        _LEADS[key] = text
    return text


def _style(value: str, key: bool) -> str:
    """The scalar as libyaml writes a str node in block context: plain, single- or double-quoted."""
    if len(value) > _MAX_STRING:
        raise _Unsupported("a long string")
    if key and len(value.encode("utf-8", "surrogatepass")) > 128:  # not a simple key: libyaml writes `? key`
        raise _Unsupported("a long key")
    if not value:
        return "''"  # '' resolves to null, so it is quoted; empty plain keys are quoted too
    if not (value.isascii() and value.isprintable()):  # not all of it in " " .. "~"
        if "\n" in value and value.isascii() and value.replace("\n", "").isprintable():
            if key:
                raise _Unsupported("a multi-line key")
            if _single_quote_allowed(value):
                raise _Unsupported("a multi-line string that libyaml single-quotes")
        elif key and any(c in value for c in "\n\r\x85\u2028\u2029"):
            raise _Unsupported("a multi-line key")
        return _double_quoted(value)
    # printable ASCII, one line: plain unless indicators, leading/trailing space or an implicit type
    plain = value[0] != " " and value[-1] != " "
    if plain:
        first = value[0]
        nxt = value[1] if len(value) > 1 else " "  # the end counts as whitespace
        if first in _FIRST_INDICATORS or value.startswith(("---", "...")):
            plain = False
        elif first in "?:-" and nxt == " ":
            plain = False
        elif ": " in value or " #" in value or value.endswith(":"):
            plain = False
        elif not _plain_implicit(value):
            plain = False
    if plain:
        return value
    return "'" + value.replace("'", "''") + "'"


def _single_quote_allowed(value: str) -> bool:
    """libyaml single-quotes a multi-line string without a space next to a line break."""
    return " \n" not in value and "\n " not in value


def _plain_implicit(value: str) -> bool:
    """Plain only if it reads back as a string (PyYAML's resolver, as CSafeDumper asks it)."""
    return implicit_tag(value) == "tag:yaml.org,2002:str"


_NAMED_ESCAPES = {
    "\x00": "\\0", "\x07": "\\a", "\x08": "\\b", "\t": "\\t", "\n": "\\n", "\x0b": "\\v", "\x0c": "\\f",
    "\r": "\\r", "\x1b": "\\e", '"': '\\"', "\\": "\\\\", "\x85": "\\N", "\xa0": "\\_", "\u2028": "\\L",
    "\u2029": "\\P",
}


def _double_quoted(value: str) -> str:
    """libyaml's yaml_emitter_write_double_quoted_scalar without unicode and without folding."""
    out = ['"']
    for char in value:
        if " " <= char <= "~" and char not in '"\\':
            out.append(char)
            continue
        named = _NAMED_ESCAPES.get(char)
        if named is not None:
            out.append(named)
            continue
        code = ord(char)
        if 0xD800 <= code <= 0xDFFF:
            raise _Unsupported("a surrogate")  # not UTF-8: PyYAML raises
        if code <= 0xFF:
            out.append(f"\\x{code:02X}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04X}")
        else:
            out.append(f"\\U{code:08X}")
    out.append('"')
    return "".join(out)
