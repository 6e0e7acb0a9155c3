"""Typed values as argocd-vault-plugin (Go) sees them, and how it prints them.

Vault's JSON numbers keep their exact text (Go decodes them as json.Number); numbers parsed
from a string by jsonParse/yamlParse/jsonPath are float64. Printing follows Go's fmt and
encoding/json, so output matches AVP byte for byte.
"""

from __future__ import annotations

import base64
import json
import math
import re
from decimal import Decimal

_B64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


def b64decode_std(text: str) -> bytes:
    """Go's base64.StdEncoding.DecodeString: padded, strict, CR and LF skipped; ValueError otherwise."""
    text = text.replace("\r", "").replace("\n", "")
    if not _B64.fullmatch(text):
        raise ValueError("invalid base64")
    return base64.b64decode(text)


class JsonNumber:
    """A number from Vault's response, kept as its exact JSON text."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JsonNumber) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"JsonNumber({self.text})"

    def as_float(self) -> float:
        return float(self.text)

    def plain(self) -> int | float:
        try:
            return int(self.text)
        except ValueError:
            return float(self.text)


# Far deeper than any real secret, and shallow enough that the recursive code run on values
# (printing, jsonPath, copies) stays well inside Python's recursion limit.
MAX_DEPTH = 100


class TooDeep(ValueError):
    """JSON nested more than MAX_DEPTH levels (`msg` as in json.JSONDecodeError)."""

    def __init__(self):
        self.msg = f"nested more than {MAX_DEPTH} levels deep"
        super().__init__(self.msg)


def _loads(text: str, number):
    try:
        value = json.loads(text, parse_int=number, parse_float=number, parse_constant=_no_constant)
    except RecursionError:  # deeper than the parser's own limit
        raise TooDeep() from None
    return check_depth(value)


def check_depth(value):
    """`value`, or TooDeep if its maps and lists nest more than MAX_DEPTH levels."""
    stack = [(value, 1)]  # walked without recursion
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if depth > MAX_DEPTH:
                raise TooDeep()
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return value


def loads_vault(text: str):
    """Parse a Vault response body, keeping numbers exact; ValueError (TooDeep) when too deep."""
    return _loads(text, JsonNumber)


def loads_go(text: str):
    """json.Unmarshal into interface{}: every number becomes a float64."""
    return _loads(text, float)


def _no_constant(name: str):
    raise ValueError(f"invalid JSON literal {name}")


def go_type(value) -> str:
    """The Go type name AVP prints in `invalid datatype` errors."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if isinstance(value, JsonNumber):
        return "json.Number"
    if isinstance(value, (int, float)):
        return "float64"
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    return type(value).__name__


def _digits(f: float) -> tuple[str, int]:
    """Shortest round-trip digits and decimal-point position (like Go's strconv)."""
    sign, digits, exp = Decimal(repr(abs(f))).normalize().as_tuple()
    text = "".join(map(str, digits)).rstrip("0") or "0"
    return text, len(digits) + exp


def _format_e(digits: str, dp: int) -> str:
    exp = dp - 1
    mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{mant}e{'-' if exp < 0 else '+'}{abs(exp):02d}"


def _format_f(digits: str, dp: int) -> str:
    if dp <= 0:
        return "0." + "0" * -dp + digits
    if dp >= len(digits):
        return digits + "0" * (dp - len(digits))
    return digits[:dp] + "." + digits[dp:]


def go_float(f: float) -> str:
    """fmt.Sprint(float64): %g with the shortest digits, exponent from 1e+06 on."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "-0" if math.copysign(1, f) < 0 else "0"
    digits, dp = _digits(f)
    exp = dp - 1
    body = _format_e(digits, dp) if exp < -4 or exp >= 6 else _format_f(digits, dp)
    return ("-" if f < 0 else "") + body


def json_float(f: float) -> str:
    """encoding/json's float64: plain decimal, exponent only below 1e-6 or from 1e21."""
    if math.isnan(f) or math.isinf(f):
        raise ValueError("unsupported float value")
    if f == 0:
        return "0"
    digits, dp = _digits(f)
    a = abs(f)
    if a < 1e-6 or a >= 1e21:
        body = _format_e(digits, dp)
        body = body.replace("e-0", "e-")  # Go cleans e-09 to e-9
    else:
        body = _format_f(digits, dp)
    return ("-" if f < 0 else "") + body


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f",
            "<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _json_string(s: str) -> str:
    out = []
    for ch in s:
        esc = _ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif ch < " ":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def go_json(value) -> str:
    """json.Marshal: compact, map keys sorted, HTML characters escaped."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, JsonNumber):
        return value.text
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return json_float(value)
    if isinstance(value, str):
        return _json_string(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{_json_string(str(k))}:{go_json(value[k])}" for k in sorted(value, key=str)) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(go_json(v) for v in value) + "]"
    raise TypeError(f"cannot encode {type(value).__name__}")


def go_text(value) -> str:
    """fmt.Sprint of a scalar (what jsonPath prints for a single value)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, JsonNumber):
        return value.text
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, (dict, list)):
        return go_json(value)
    return str(value)


def stringify(value) -> str:
    """A typed result as text for a string-only field (Secret, ConfigMap).

    Numbers print as encoding/json would (never 1e+06), maps and lists as compact JSON.
    """
    if isinstance(value, str):
        return value
    return go_json(value)


def to_plain(value):
    """Typed result -> plain Python for YAML output: exact ints, integral floats as ints."""
    if isinstance(value, JsonNumber):
        return value.plain()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    return value
