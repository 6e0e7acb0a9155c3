"""Walking Kubernetes objects: strings, map keys, annotations, and where each one is.

Used by the resolver and by `find_placeholders`, the fail-closed scan the renderer runs on its
final output. The scan sees more than AVP would resolve: nested lists, map keys, ignored
documents, and the base64-decoded text of Secret values.
"""

from __future__ import annotations

from typing import Iterator

from cmp_plugin.problems import format_path
from cmp_plugin.secrets import grammar
from cmp_plugin.secrets.values import b64decode_std

ANN_PATH = "avp.kubernetes.io/path"
ANN_IGNORE = "avp.kubernetes.io/ignore"
ANN_KV = "avp.kubernetes.io/kv-version"
ANN_VERSION = "avp.kubernetes.io/secret-version"
ANN_REMOVE = "avp.kubernetes.io/remove-missing"


_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def parse_bool(text: str) -> bool | None:
    """Go's strconv.ParseBool; None when `text` is not a boolean."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


class Doc:
    """One document's identity and annotations."""

    __slots__ = ("index", "label", "kind", "secret", "annotations")

    def __init__(self, index: int, label: str, kind: str, secret: bool, annotations: dict[str, str]):
        self.index = index
        self.label = label  # Kind/name
        self.kind = kind
        self.secret = secret  # a core v1 Secret
        self.annotations = annotations

    @property
    def ignored(self) -> bool:
        return parse_bool(self.annotations.get(ANN_IGNORE, "")) is True

    @property
    def generic(self) -> bool:
        """Generic `<KEY>` placeholders are active: the path annotation is present (even empty)."""
        return ANN_PATH in self.annotations and not self.ignored


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def describe(index: int, doc: dict) -> Doc:
    kind = doc.get("kind") if isinstance(doc.get("kind"), str) else ""
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    name = meta.get("name") if isinstance(meta.get("name"), str) else ""
    raw = meta.get("annotations") if isinstance(meta.get("annotations"), dict) else {}
    annotations = {str(k): _text(v) for k, v in raw.items()}
    label = f"{kind or 'document'}/{name}" if name else f"{kind or 'document'} #{index + 1}"
    secret = kind == "Secret" and doc.get("apiVersion", "v1") == "v1"
    return Doc(index, label, kind, secret, annotations)


def location(parts: tuple) -> str:
    """`spec.containers[0].env[1].value`, `data['tls.crt']`."""
    return format_path(parts, quote=True)


class Slot:
    """A string in a document: a value, or a map key when is_key."""

    __slots__ = ("parts", "container", "key", "value", "is_key")

    def __init__(self, parts: tuple, container, key, value: str, is_key: bool = False):
        self.parts = parts  # location inside the document
        self.container = container
        self.key = key  # map key or list index
        self.value = value
        self.is_key = is_key

    @property
    def field(self) -> str:
        """What AVP calls the key in `in string KEY`: the nearest map key."""
        for part in reversed(self.parts):
            if isinstance(part, str):
                return part
        return ""


def strings(node, parts: tuple = ()) -> Iterator[Slot]:
    """Every string value and map key below `node`, lists inside lists included."""
    if isinstance(node, dict):
        for key, value in list(node.items()):
            if isinstance(key, str):
                yield Slot(parts + (key,), node, key, key, is_key=True)
            if isinstance(value, str):
                yield Slot(parts + (key,), node, key, value)
            elif isinstance(value, (dict, list)):
                yield from strings(value, parts + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            if isinstance(value, str):
                yield Slot(parts + (i,), node, i, value)
            elif isinstance(value, (dict, list)):
                yield from strings(value, parts + (i,))


def base64_template(value: str, generic: bool) -> str | None:
    """The decoded text when `value` is standard base64 of text holding placeholders (AVP §4)."""
    if not value or "<" in value:
        return None
    try:
        decoded = b64decode_std(value).decode("utf-8")
    except ValueError:
        return None
    return decoded if grammar.has_placeholder(decoded, generic) else None


def find_placeholders(docs: list, generic: bool = True) -> list[tuple[str, str]]:
    """(location, placeholder text) of every placeholder left in `docs`.

    Reports every `<path:` (complete or not) anywhere, and (unless `generic` is False) generic
    `<KEY>` placeholders in documents with the path annotation; also inside base64-encoded
    Secret values and map keys.
    """
    found: list[tuple[str, str]] = []
    for i, doc in enumerate(docs):
        if not isinstance(doc, dict):
            continue
        info = describe(i, doc)
        with_generic = generic and info.generic
        for slot in strings(doc):
            texts = [(slot.value, "")]
            if info.kind == "Secret" and not slot.is_key:
                decoded = base64_template(slot.value, with_generic)
                if decoded is not None:
                    texts.append((decoded, " (base64-decoded)"))
            for text, note in texts:
                for token in grammar.scan(text, with_generic):
                    where = f"{info.label} {location(slot.parts)}{' (map key)' if slot.is_key else ''}{note}"
                    found.append((where, token.text))
    return found
