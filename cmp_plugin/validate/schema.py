"""The project-file JSON Schema: a fast yes/no check, and jsonschema's words when the answer is no.

Importing jsonschema costs more than a whole render, so a valid file is checked by the small
interpreter below (the keywords project.schema.json uses, nothing else); only an invalid file
pays for jsonschema, which then produces the messages. A test keeps the two in agreement.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
import os

from cmp_plugin.load import Loaded
from cmp_plugin.problems import Problem

SUPPORTED = {"$schema", "$id", "title", "description", "type", "properties", "additionalProperties",
             "required", "items", "pattern", "minimum", "maximum", "enum", "minLength", "maxLength",
             "uniqueItems", "propertyNames", "$ref", "definitions", "x-pattern-message", "maxItems",
             "minProperties", "maxProperties", "x-range-message"}


SCHEMA_FILE = os.path.join(os.path.dirname(__file__), "project.schema.json")


def schema_text() -> str:
    with open(SCHEMA_FILE, encoding="utf-8") as fh:
        return fh.read()


@lru_cache(maxsize=1)
def schema() -> dict:
    return json.loads(schema_text())


_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


@lru_cache(maxsize=None)
def _regex(pattern: str) -> re.Pattern:
    return re.compile(pattern)


def is_valid(value, node: dict | None = None, root: dict | None = None) -> bool:
    """True when value satisfies the schema node (the subset of Draft 7 that SUPPORTED lists)."""
    root = root or schema()
    node = root if node is None else node
    if "$ref" in node:
        target = root
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        if not is_valid(value, target, root):
            return False
    if "type" in node:
        types = node["type"] if isinstance(node["type"], list) else [node["type"]]
        if not any(_TYPES[t](value) for t in types):
            return False
    if "enum" in node and not any(value == e and type(value) is type(e) for e in node["enum"]):
        return False
    if isinstance(value, str):
        if len(value) < node.get("minLength", 0) or len(value) > node.get("maxLength", len(value)):
            return False
        if "pattern" in node and not _regex(node["pattern"]).search(value):
            return False
    if isinstance(value, int) and not isinstance(value, bool):
        if value < node.get("minimum", value) or value > node.get("maximum", value):
            return False
    if isinstance(value, list):
        if len(value) > node.get("maxItems", len(value)):
            return False
        if node.get("uniqueItems") and len({json.dumps(v, sort_keys=True) for v in value}) != len(value):
            return False
        if "items" in node and not all(is_valid(v, node["items"], root) for v in value):
            return False
    if isinstance(value, dict):
        props = node.get("properties", {})
        if any(k not in value for k in node.get("required", ())):
            return False
        if not node.get("minProperties", 0) <= len(value) <= node.get("maxProperties", len(value)):
            return False
        extra = node.get("additionalProperties", True)
        for k, v in value.items():
            if "propertyNames" in node and not is_valid(k, node["propertyNames"], root):
                return False
            if k in props:
                if not is_valid(v, props[k], root):
                    return False
            elif extra is False:
                return False
            elif isinstance(extra, dict) and not is_valid(v, extra, root):
                return False
    return True


def problems(loaded: Loaded) -> list[Problem]:
    """Every schema problem of loaded.value, worded by jsonschema, placed at the offending line."""
    if is_valid(loaded.value):
        return []
    if loaded.value is None:
        return [Problem(loaded.file, 1, 1, "", "the file is empty; expected a mapping with 'applications' and/or 'databases'", "schema")]
    from jsonschema import Draft7Validator
    from jsonschema.validators import extend

    checker = Draft7Validator.TYPE_CHECKER.redefine("integer", lambda _c, v: _TYPES["integer"](v))
    validator = extend(Draft7Validator, type_checker=checker)(schema())
    out = []
    for error in validator.iter_errors(loaded.value):
        out.extend(_explain(error, loaded))
    return sorted(set(out))


def _yaml_spelling(value) -> str:
    """A scalar as a YAML file spells it (`true`, not Python's `True`)."""
    return json.dumps(value) if isinstance(value, bool) or value is None else str(value)


def _is_key(data, path: tuple, key: str) -> bool:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return False
    return isinstance(data, dict) and key in data


def _explain(error, loaded: Loaded) -> list[Problem]:
    path = tuple(error.absolute_path)
    kw, node, value = error.validator, error.schema, error.instance
    if kw == "additionalProperties" and isinstance(value, dict):
        from difflib import get_close_matches  # imported only when a file has a problem

        known = sorted(node.get("properties", {}))
        out = []
        for key in sorted(k for k in value if k not in node.get("properties", {})):
            hint = get_close_matches(key, known, n=1)
            tail = f"; did you mean {hint[0]!r}?" if hint else f"; expected one of {', '.join(known)}"
            out.append(loaded.problem(path + (key,), f"unknown field {key!r}{tail}", "schema", key=True))
        return out
    if kw == "pattern" and isinstance(value, str) and _is_key(loaded.value, path, value):
        # propertyNames: jsonschema reports the key at its mapping; place it at the key itself
        message = node.get("x-pattern-message", f"does not match {node.get('pattern')!r}")
        return [loaded.problem(path + (value,), f"{value!r} {message}", "schema", key=True)]
    if kw == "pattern" and "x-pattern-message" in node:
        return [loaded.problem(path, f"{value!r} {node['x-pattern-message']}", "schema")]
    if kw in ("minimum", "maximum") and "x-range-message" in node:
        return [loaded.problem(path, f"{value} {node['x-range-message']}", "schema")]
    if kw == "type" and isinstance(value, (bool, int, float)) and "string" in str(node.get("type")):
        text = _yaml_spelling(value)
        return [loaded.problem(path, f"{text} is not of type 'string' (quote it: \"{text}\")", "schema")]
    if kw in ("enum", "type") and isinstance(value, bool):
        allowed = " or ".join(_yaml_spelling(v) for v in node.get("enum", ())) or str(node.get("type"))
        return [loaded.problem(path, f"{_yaml_spelling(value)} is not allowed here; expected {allowed}", "schema")]
    if kw in ("minProperties", "maxProperties") and node.get("maxProperties") == 1:
        return [loaded.problem(path, f"give exactly one of {', '.join(node.get('properties', {}))}", "schema")]
    if kw == "propertyNames":
        return [loaded.problem(path, f"{error.message}", "schema")]
    return [loaded.problem(path, error.message, "schema")]
