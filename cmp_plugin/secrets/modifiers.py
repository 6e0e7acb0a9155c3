"""The placeholder modifiers: `<path:P#K | name args | ...>`: argocd-vault-plugin's seven, and
`urlencode`, which the project renderer uses to put a password into a connection URL.

`check(stage)` validates a stage before Vault is contacted (unknown name, arguments, a jsonPath
expression that does not parse); `apply(stage, value)` runs it. Error texts follow AVP and never
contain the value: parse errors give a position, not the text around it.
"""

from __future__ import annotations

import base64
import re
from collections import namedtuple

from cmp_plugin.secrets.values import MAX_DEPTH, TooDeep, b64decode_std, check_depth, go_type, loads_go


class ModifierError(Exception):
    """`str(exc)` is AVP's inner message, e.g. `invalid parameters`."""

    def __init__(self, message: str, name: str = ""):
        super().__init__(message)
        self.name = name


# A checked stage; program is the parsed jsonPath template.
Stage = namedtuple("Stage", "name args program", defaults=(None,))


NAMES = ("base64encode", "base64decode", "jsonPath", "jsonParse", "yamlParse", "indent", "sha256sum", "urlencode")


def check(text: str) -> Stage:
    """Parse one `| name args` stage; raise ModifierError (name '' for an unknown modifier)."""
    fields = text.split()
    if not fields:
        raise ModifierError("invalid modifier: empty modifier stage")  # AVP crashes here
    name, args = fields[0], tuple(fields[1:])
    if name not in NAMES:
        raise ModifierError(f"invalid modifier: {name}")
    if name == "jsonPath":
        if not args:
            raise ModifierError("invalid parameters", name)
        from cmp_plugin.secrets import jsonpath  # only when a jsonPath stage exists

        expression = " ".join(args)
        if "{" not in expression:
            raise ModifierError(f"expression {expression} has no {{...}} action; write {{{expression}}}", name)
        try:
            return Stage(name, args, jsonpath.parse(expression))
        except jsonpath.JsonPathError as exc:
            raise ModifierError(str(exc), name) from None
    if name == "indent":
        if len(args) != 1:
            raise ModifierError("invalid parameters", name)
        if not re.fullmatch(r"\+?\d+", args[0]):
            raise ModifierError("invalid indentation level", name)
        return Stage(name, args)
    if args:
        raise ModifierError("invalid parameters", name)
    return Stage(name, args)


def apply(stage: Stage, value):
    try:
        return _FUNCS[stage.name](stage, value)
    except ModifierError as exc:
        exc.name = stage.name
        raise


def _need_string(value, suffix: str = ""):
    if not isinstance(value, str):
        raise ModifierError(f"invalid datatype {go_type(value)}{suffix}")
    return value


def _base64encode(stage: Stage, value):
    return base64.b64encode(_need_string(value).encode()).decode()


def _base64decode(stage: Stage, value):
    try:
        raw = b64decode_std(_need_string(value))
    except ValueError:
        raise ModifierError("invalid base64 input") from None  # AVP returns partial output
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ModifierError("decoded value is not UTF-8 text") from None


def _json_error(exc: ValueError) -> ModifierError:
    where = f" at line {exc.lineno} column {exc.colno}" if hasattr(exc, "lineno") else ""
    reason = getattr(exc, "msg", "invalid JSON")
    return ModifierError(f"invalid JSON: {reason}{where}")


def _jsonPath(stage: Stage, value):
    from cmp_plugin.secrets import jsonpath

    data = value
    if isinstance(value, str):
        try:
            data = loads_go(value)
        except ValueError as exc:
            raise _json_error(exc) from None
    try:
        return jsonpath.execute(stage.program, data)
    except jsonpath.JsonPathError as exc:
        raise ModifierError(str(exc)) from None


def _jsonParse(stage: Stage, value):
    try:
        return loads_go(_need_string(value))
    except ModifierError:
        raise
    except ValueError as exc:
        raise _json_error(exc) from None


def _yamlParse(stage: Stage, value):
    import yaml

    text = _need_string(value)
    try:
        return check_depth(_through_json(yaml.safe_load(text)))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        raise ModifierError(f"invalid YAML{where}") from None  # PyYAML's text quotes the input
    except (RecursionError, TooDeep):  # PyYAML's parser and _through_json recurse per level
        raise ModifierError(f"invalid YAML: nested more than {MAX_DEPTH} levels deep") from None


def _through_json(value):
    """sigs.k8s.io/yaml converts YAML to JSON first: string keys, float64 numbers."""
    if isinstance(value, dict):
        return {_key_text(k): _through_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_through_json(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return str(value)


def _key_text(key) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return str(key)


def _indent(stage: Stage, value):
    # Unlike AVP, keep each line's own indentation and blank lines (AVP #633, #650).
    level = int(stage.args[0])
    lines = _need_string(value).split("\n")
    pad = " " * level
    return "\n".join([lines[0]] + [pad + line if line.strip() else line for line in lines[1:]])


def _sha256sum(stage: Stage, value):
    import hashlib

    return hashlib.sha256(_need_string(value, ", expected string").encode()).hexdigest()


def _urlencode(stage: Stage, value):
    """RFC 3986 percent-encoding of everything but unreserved characters: safe in a URL's
    userinfo, path and query alike (`@ : / % # ? +` and spaces all encoded)."""
    from urllib.parse import quote

    return quote(_need_string(value), safe="")


_FUNCS = {
    "urlencode": _urlencode,
    "base64encode": _base64encode,
    "base64decode": _base64decode,
    "jsonPath": _jsonPath,
    "jsonParse": _jsonParse,
    "yamlParse": _yamlParse,
    "indent": _indent,
    "sha256sum": _sha256sum,
}
