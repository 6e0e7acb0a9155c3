"""Kubernetes manifests read and written the way argocd-vault-plugin does it.

AVP reads with Kubernetes' YAML-or-JSON decoder and prints every document with
sigs.k8s.io/yaml, i.e. through JSON and go-yaml v2. What that means, and what is copied here:

* reading: plain scalars resolve by go-yaml v2's rules, not PyYAML's YAML 1.1 ones (`08` is the
  number 8, `1:30` and timestamps stay text, `y`/`n` are booleans); numbers become int or
  float as in JSON; non-text map keys become text; a stream that starts with `{` is JSON;
  empty documents are skipped;
* writing: keys sorted in go-yaml's natural order (`a2` before `a10`), strings that would read
  back as something else in double quotes, multi-line strings as `|` blocks, lists not indented
  under their key, 80-column folding, numbers as Go prints them, and `---` after each document.

PyYAML's emitter is a port of the same libyaml code as go-yaml's, so with go-yaml's choices of
style and resolution the bytes agree (tests compare with AVP's own fixtures).
"""

from __future__ import annotations

import datetime
import functools
import json
import math
import re

import yaml

from cmp_plugin.secrets.values import JsonNumber, go_float

MAX_NODES = 2_000_000  # values after alias expansion, per input (a chart's CRDs are ~100k)
MAX_DEPTH = 100

_BOOL = {**{k: True for k in ("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON")},
         **{k: False for k in ("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF")}}
_NULL = ("", "~", "null", "Null", "NULL")
_SPECIAL_FLOAT = {".nan": math.nan, ".NaN": math.nan, ".NAN": math.nan, **{
    f"{sign}{inf}": (-math.inf if sign == "-" else math.inf)
    for sign in ("", "+", "-") for inf in (".inf", ".Inf", ".INF")}}
_GO_INT = re.compile(r"[+-]?(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")
_YAML_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_DOT_FLOAT = re.compile(r"\.[0-9]+(?:[eE][-+]?[0-9]+)?")
_BASE60 = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?")
_TIMESTAMP = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:([Tt])|( ))(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d+)?"
                        r"(Z|[+-]\d{2}:\d{2})?)?")
STR, BOOL, NULL, INT, FLOAT, MERGE, TIMESTAMP = "str", "bool", "null", "int", "float", "merge", "timestamp"


def _go_int(text: str):
    """strconv.ParseInt(text, 0, 64), then ParseUint; None when neither accepts it."""
    if not _GO_INT.fullmatch(text):
        return None
    sign = -1 if text[0] == "-" else 1
    body = text.lstrip("+-")
    if body[:2] in ("0x", "0X", "0o", "0O", "0b", "0B"):
        value = int(body[2:], {"x": 16, "o": 8, "b": 2}[body[1].lower()])
    elif len(body) > 1 and body[0] == "0":
        value = int(body, 8)
    else:
        value = int(body)
    value *= sign
    if -2 ** 63 <= value < 2 ** 63 or (text[0] not in "+-" and value < 2 ** 64):
        return value
    return None


def _timestamp(text: str) -> bool:
    m = _TIMESTAMP.fullmatch(text)
    if not m or (m.group(4) and not m.group(9)) or (m.group(5) and m.group(9)):
        return False  # T needs a zone; the space form has none
    try:
        datetime.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if m.group(6) is not None and (int(m.group(6)) > 23 or int(m.group(7)) > 59 or int(m.group(8)) > 59):
            return False
    except ValueError:
        return False
    return True


def resolve(text: str) -> tuple[str, object]:
    """go-yaml v2's resolve() of a plain scalar: (kind, value)."""
    if text in _BOOL:
        return BOOL, _BOOL[text]
    if text in _NULL:
        return NULL, None
    if text in _SPECIAL_FLOAT:
        return FLOAT, _SPECIAL_FLOAT[text]
    if text == "<<":
        return MERGE, text
    first = text[0]
    if first == "." and _DOT_FLOAT.fullmatch(text):
        return FLOAT, float(text)
    if first in "+-0123456789":
        if _timestamp(text):
            return TIMESTAMP, text  # go-yaml keeps it text when decoding into interface{}
        plain = text.replace("_", "")
        number = _go_int(plain)
        if number is not None:
            return INT, number
        if _YAML_FLOAT.fullmatch(plain):
            return FLOAT, float(plain)
        if plain.startswith(("0b", "-0b")):
            digits = plain.lstrip("-")[2:]
            if digits and set(digits) <= {"0", "1"}:
                return INT, int(digits, 2) * (-1 if plain[0] == "-" else 1)
    return STR, text


def plain_is_text(text: str) -> bool:
    """Whether go-yaml writes `text` unquoted (it reads back as the same string)."""
    return resolve(text)[0] == STR and not _BASE60.fullmatch(text)


# ---- reading -------------------------------------------------------------------------------

class ManifestError(ValueError):
    def __init__(self, message: str, line: int = 0, col: int = 0):
        super().__init__(message)
        self.line, self.col = line, col


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR_TAG = "tag:yaml.org,2002:str"


_PLAIN = "!go-plain"  # the tag our loader gives plain, untagged scalars; resolved by go-yaml's rules


def _scalar(node: yaml.ScalarNode):
    if node.tag == _PLAIN:
        kind, value = resolve(node.value)
        return node.value if kind in (TIMESTAMP, MERGE) else value
    if node.tag.startswith("tag:yaml.org,2002:") and node.tag != _STR_TAG:
        name = node.tag.rsplit(":", 1)[1]
        if name == "binary":
            return "".join(node.value.split())  # go-yaml decodes it, JSON encodes it again
        kind, value = resolve(node.value)
        if name == kind or (name == "float" and kind == INT):
            return float(value) if name == "float" else value
        if name in ("int", "float", "bool", "null"):
            raise ManifestError(f"cannot decode {node.value!r} as !!{name}", *_mark(node))
    return node.value  # quoted, `!!str`, `!!timestamp` and other tags: go-yaml keeps the text


def _mark(node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _PlainLoader(_Loader):
    """PyYAML's parser and composer; plain scalars are resolved later by go-yaml's rules."""

    def resolve(self, kind, value, implicit):
        if kind is yaml.ScalarNode and implicit[0]:
            return _PLAIN
        return super().resolve(kind, value, implicit)


def _build(node, budget: list, depth: int):
    budget[0] -= 1
    if budget[0] < 0:
        raise ManifestError(f"more than {MAX_NODES} values after expanding aliases (an alias bomb?)", *_mark(node))
    if depth > MAX_DEPTH:
        raise ManifestError(f"nested deeper than {MAX_DEPTH} levels", *_mark(node))
    if isinstance(node, yaml.ScalarNode):
        return _scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, budget, depth + 1) for item in node.value]
    result: dict = {}
    merged = []
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == "<<" and key_node.tag in (
                _PLAIN, "tag:yaml.org,2002:merge"):
            merged.append(value_node)
            continue
        if not isinstance(key_node, yaml.ScalarNode):
            raise ManifestError("a map key must be text, a number or a boolean", *_mark(key_node))
        key = _key_text(_scalar(key_node), key_node)
        result[key] = _build(value_node, budget, depth + 1)  # a repeated key: the last one wins
    for value_node in merged:  # YAML merge keys (<<): explicit keys win
        for src in (value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]):
            value = _build(src, budget, depth + 1)
            if not isinstance(value, dict):
                raise ManifestError("a merge key (<<) needs a map or a list of maps", *_mark(src))
            for k, v in value.items():
                result.setdefault(k, v)
    return result


def _key_text(key, node) -> str:
    """sigs.k8s.io/yaml: map keys become JSON strings."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float) and math.isfinite(key):
        return go_float(key)
    raise ManifestError(f"unsupported map key {node.value!r}", *_mark(node))


def load_documents(text: str) -> list[tuple[object, int]]:
    """(document, line) of each non-empty document in a YAML or JSON stream; ManifestError."""
    stripped = text.lstrip(" \t\r\n")
    if stripped.startswith("{"):
        return _load_json(text)
    docs = []
    loader = _PlainLoader(text)
    try:
        budget = [MAX_NODES]
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            value = _build(node, budget, 0)
            if value is not None and value != {}:
                docs.append((value, node.start_mark.line + 1))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        message = " ".join((getattr(exc, "problem", None) or str(exc)).split())  # go-yaml gives only the problem
        raise ManifestError(f"error converting YAML to JSON: yaml: {message}",
                            *((mark.line + 1, mark.column + 1) if mark else (0, 0))) from None
    finally:
        loader.dispose()
    return docs


def _load_json(text: str) -> list[tuple[object, int]]:
    decoder = json.JSONDecoder()
    docs, i = [], 0
    while True:
        while i < len(text) and text[i] in " \t\r\n":
            i += 1
        if i >= len(text):
            return docs
        line = text.count("\n", 0, i) + 1
        try:
            value, i = decoder.raw_decode(text, i)
        except json.JSONDecodeError as exc:
            raise ManifestError(f"invalid JSON: {exc.msg}", exc.lineno, exc.colno) from None
        except RecursionError:
            raise ManifestError(f"JSON nested deeper than {MAX_DEPTH} levels", line, 1) from None
        if value is not None and value != {}:
            docs.append((value, line))


# ---- writing -------------------------------------------------------------------------------

def _go_key_less(a: str, b: str) -> bool:
    """go-yaml v2's keyList.Less for two strings: letters after other characters, digit runs by value."""
    for i in range(min(len(a), len(b))):
        ca, cb = a[i], b[i]
        if ca == cb:
            continue
        al, bl = ca.isalpha(), cb.isalpha()
        if al and bl:
            return ca < cb
        if al or bl:
            return bl
        an = bn = 0
        if ca == "0" or cb == "0":
            j = i - 1
            while j >= 0 and a[j].isdecimal():
                if a[j] != "0":
                    an = bn = 1
                    break
                j -= 1
        ai = i
        while ai < len(a) and a[ai].isdecimal():
            an = an * 10 + ord(a[ai]) - 48
            ai += 1
        bi = i
        while bi < len(b) and b[bi].isdecimal():
            bn = bn * 10 + ord(b[bi]) - 48
            bi += 1
        if an != bn:
            return an < bn
        if ai != bi:
            return ai < bi
        return ca < cb
    return len(a) < len(b)


_KEY_ORDER = functools.cmp_to_key(lambda a, b: -1 if _go_key_less(a, b) else (1 if _go_key_less(b, a) else 0))


class _GoResolver(yaml.resolver.BaseResolver):
    def resolve(self, kind, value, implicit):
        if kind is yaml.ScalarNode and implicit[0]:
            resolved = resolve(value)[0]
            if resolved == STR and _BASE60.fullmatch(value):
                return "tag:yaml.org,2002:int"
            return {STR: _STR_TAG, BOOL: "tag:yaml.org,2002:bool", NULL: "tag:yaml.org,2002:null",
                    INT: "tag:yaml.org,2002:int", FLOAT: "tag:yaml.org,2002:float",
                    MERGE: "tag:yaml.org,2002:merge", TIMESTAMP: "tag:yaml.org,2002:timestamp"}[resolved]
        return super().resolve(kind, value, implicit)


class _Dumper(yaml.emitter.Emitter, yaml.serializer.Serializer, yaml.representer.SafeRepresenter, _GoResolver):
    def __init__(self, stream, **kwargs):
        yaml.emitter.Emitter.__init__(self, stream, canonical=False, indent=2, width=80, allow_unicode=True,
                                      line_break=None)
        yaml.serializer.Serializer.__init__(self, explicit_start=False, explicit_end=False)
        yaml.representer.SafeRepresenter.__init__(self, default_style=None, default_flow_style=False,
                                                  sort_keys=False)
        _GoResolver.__init__(self)

    def ignore_aliases(self, data):
        return True  # go-yaml never writes anchors; shared values are written out each time


def _represent_str(dumper, value: str):
    if "\n" in value:
        style = "|"
    elif plain_is_text(value):
        style = None
    else:
        style = '"'
    return dumper.represent_scalar(_STR_TAG, value, style=style)


def _represent_dict(dumper, value: dict):
    return dumper.represent_mapping("tag:yaml.org,2002:map", sorted(value.items(), key=lambda kv: _KEY_ORDER(kv[0])))


def _represent_float(dumper, value: float):
    if value.is_integer() and abs(value) < 1e21:  # through JSON, 2.0 is the integer 2
        return dumper.represent_scalar("tag:yaml.org,2002:int", str(int(value)))
    return dumper.represent_scalar("tag:yaml.org,2002:float", go_float(value))


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(dict, _represent_dict)
_Dumper.add_representer(float, _represent_float)
_Dumper.add_representer(JsonNumber, lambda d, v: d.represent_scalar(
    "tag:yaml.org,2002:float" if any(c in v.text for c in ".eE") else "tag:yaml.org,2002:int", _number_text(v)))


def _number_text(number: JsonNumber) -> str:
    if any(c in number.text for c in ".eE"):
        f = float(number.text)
        return str(int(f)) if f.is_integer() and abs(f) < 1e21 else go_float(f)
    return number.text


def dump_document(doc) -> str:
    """One document as AVP prints it, with the `---` line after it."""
    return yaml.dump(doc, Dumper=_Dumper) + "---\n"
