"""A subset of Kubernetes JSONPath (k8s.io/client-go/util/jsonpath), as AVP's jsonPath uses it.

Supported: text outside braces, `{.a.b}`, `{$.a}`, `{@}`, `{.a[0]}`, `{.a[-1]}`, slices `{.a[1:3]}`,
`{.a[*]}`, `{.*}`, `{..name}`, `{['a.b']}`, `{.a['b','c']}`, unions `{.a[0,2]}`, filters
`{.a[?(@.k=="v")]}` (==, !=, <, <=, >, >=, or existence), escaped dots `{.a\\.b}`,
`{range EXPR}...{end}` and quoted literals `{'x'}` / `{"\\n"}`.
Missing fields are errors (`F is not found`), as with AllowMissingKeys(false).
"""

from __future__ import annotations

import ast
import re
from collections import namedtuple

from cmp_plugin.secrets.values import JsonNumber, go_json, go_text, go_type


class JsonPathError(Exception):
    pass


# Template structure: literal text, an expression to print, a range over an expression.
Text = namedtuple("Text", "text")
Expr = namedtuple("Expr", "steps")
Range = namedtuple("Range", "expr body")

# Expression steps.
Field = namedtuple("Field", "name")
Fields = namedtuple("Fields", "names")  # ['a','b']
Wildcard = namedtuple("Wildcard", "")
Recursive = namedtuple("Recursive", "")
Index = namedtuple("Index", "start end step is_slice")
Union = namedtuple("Union", "indexes")
Filter = namedtuple("Filter", "left op right")  # op: "exists" or a comparison


def parse(template: str) -> list:
    """Parse a template into Text / Expr / Range nodes."""
    root: list = []
    stack: list[list] = [root]
    i = 0
    while i < len(template):
        start = template.find("{", i)
        if start < 0:
            stack[-1].append(Text(template[i:]))
            break
        if start > i:
            stack[-1].append(Text(template[i:start]))
        end = _close_brace(template, start)
        action = template[start + 1:end].strip()
        i = end + 1
        if action == "end":
            if len(stack) == 1:
                raise JsonPathError("not in range, nothing to end")
            stack.pop()
        elif action.startswith("range ") or action.startswith("range\t"):
            node = Range(_parse_expr(action[6:].strip()), [])
            stack[-1].append(node)
            stack.append(node.body)
        elif action[:1] in ("'", '"'):
            stack[-1].append(Text(_unquote(action)))
        else:
            stack[-1].append(_parse_expr(action))
    if len(stack) > 1:
        raise JsonPathError("unclosed range: missing {end}")
    return root


def _close_brace(text: str, start: int) -> int:
    quote = None
    i = start + 1
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "}":
            return i
        elif ch == "{":
            raise JsonPathError("unexpected { inside an action")
        i += 1
    raise JsonPathError("unclosed action")


def _unquote(text: str) -> str:
    if len(text) < 2 or text[-1] != text[0]:
        raise JsonPathError(f"unterminated quoted string: {text}")
    body = text[1:-1]
    try:
        return ast.literal_eval('"' + body.replace('"', '\\"') + '"') if "\\" in body else body
    except (SyntaxError, ValueError):
        raise JsonPathError(f"invalid quoted string: {text}") from None


_NAME_END = set(" .,[]$@{}()=!<>")


def _parse_expr(text: str) -> Expr:
    if not text:
        raise JsonPathError("empty action")
    steps: list = []
    i = 0
    if text[0] in "$@":
        i = 1
    while i < len(text):
        ch = text[i]
        if text.startswith("..", i):
            steps.append(Recursive())
            i += 2
            if i < len(text) and text[i] not in "[.":
                i = _parse_name(text, i, steps)
        elif ch == ".":
            i += 1
            if i >= len(text):
                break  # `{.}` is the current node
            if text[i] == "*":
                steps.append(Wildcard())
                i += 1
            elif text[i] == "[":
                continue
            else:
                i = _parse_name(text, i, steps)
        elif ch == "[":
            end = _close_bracket(text, i)
            steps.append(_parse_bracket(text[i + 1:end].strip()))
            i = end + 1
        elif ch == "*" and not steps:
            steps.append(Wildcard())
            i += 1
        else:
            raise JsonPathError(f"unrecognized character in action: U+{ord(ch):04X} {ch!r}")  # Go's %#U
    return Expr(steps)


def _parse_name(text: str, i: int, steps: list) -> int:
    name = []
    while i < len(text) and text[i] not in _NAME_END:
        if text[i] == "\\" and i + 1 < len(text):
            i += 1
        name.append(text[i])
        i += 1
    if not name:
        raise JsonPathError(f"missing field name in {text}")
    steps.append(Field("".join(name)) if name != ["*"] else Wildcard())
    return i


def _close_bracket(text: str, start: int) -> int:
    depth = 0
    quote = None
    for i in range(start, len(text)):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                return i
    raise JsonPathError(f"unterminated array in {text}")


_INT = re.compile(r"-?\d+")


def _parse_bracket(inner: str):
    if inner == "*":
        return Wildcard()
    if inner.startswith("?"):
        return _parse_filter(inner[1:].strip())
    if inner[:1] in ("'", '"'):
        return Fields([_unquote(part.strip()) for part in _split_top(inner, ",")])
    if "," in inner:
        return Union([_parse_index(part.strip()) for part in inner.split(",")])
    return _parse_index(inner)


def _split_top(text: str, sep: str) -> list[str]:
    parts, quote, cur = [], None, []
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == sep:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    return parts


def _parse_index(text: str) -> Index:
    parts = [p.strip() for p in text.split(":")]
    if len(parts) > 3 or any(p and not _INT.fullmatch(p) for p in parts):
        raise JsonPathError(f"invalid array index {text}")
    nums = [int(p) if p else None for p in parts] + [None] * (3 - len(parts))
    return Index(nums[0], nums[1], nums[2], len(parts) > 1)


_OPS = ("==", "!=", "<=", ">=", "<", ">")


def _parse_filter(text: str) -> Filter:
    if not (text.startswith("(") and text.endswith(")")):
        raise JsonPathError(f"unrecognized filter {text}")
    body = text[1:-1].strip()
    quote = None
    for i, ch in enumerate(body):
        if quote:
            quote = None if ch == quote else quote
            continue
        if ch in "'\"":
            quote = ch
            continue
        for op in _OPS:
            if body.startswith(op, i):
                left, right = body[:i].strip(), body[i + len(op):].strip()
                return Filter(_parse_operand(left), op, _parse_operand(right))
    return Filter(_parse_expr(body), "exists", None)


def _parse_operand(text: str):
    if text[:1] in "@$":
        return _parse_expr(text)
    if text[:1] in ("'", '"'):
        return _unquote(text)
    if text in ("true", "false"):
        return text == "true"
    try:
        return float(text)
    except ValueError:
        raise JsonPathError(f"unrecognized filter operand {text}") from None


# ---- evaluation ---------------------------------------------------------------------------

def execute(nodes: list, data) -> str:
    out: list[str] = []
    _run(nodes, data, out)
    return "".join(out)


def _run(nodes: list, current, out: list[str]) -> None:
    for node in nodes:
        if isinstance(node, Text):
            out.append(node.text)
        elif isinstance(node, Range):
            for item in _eval(node.expr, current):
                _run(node.body, item, out)
        else:
            out.append(" ".join(_print(v) for v in _eval(node, current)))


def _print(value) -> str:
    return go_json(value) if isinstance(value, (dict, list)) else go_text(value)


def _eval(expr: Expr, current) -> list:
    values = [current]
    for step in expr.steps:
        values = _step(step, values)
    return values


def _step(step, values: list) -> list:
    if not values:
        return []
    out: list = []
    if isinstance(step, Field):
        for v in values:
            if isinstance(v, dict) and step.name in v:
                out.append(v[step.name])
        if not out:
            raise JsonPathError(f"{step.name} is not found")
    elif isinstance(step, Fields):
        for name in step.names:
            out.extend(_step(Field(name), values))
    elif isinstance(step, Wildcard):
        for v in values:
            if isinstance(v, dict):
                out.extend(v[k] for k in sorted(v, key=str))
            elif isinstance(v, list):
                out.extend(v)
    elif isinstance(step, Recursive):
        for v in values:
            _descend(v, out)
    elif isinstance(step, Index):
        for v in values:
            out.extend(_index(step, v))
    elif isinstance(step, Union):
        for index in step.indexes:
            for v in values:
                out.extend(_index(index, v))
    elif isinstance(step, Filter):
        for v in values:
            out.extend(_filter(step, v))
    return out


def _descend(value, out: list) -> None:
    children = []
    if isinstance(value, dict):
        children = [value[k] for k in sorted(value, key=str)]
    elif isinstance(value, list):
        children = list(value)
    if children:
        out.append(value)
        for child in children:
            _descend(child, out)


def _index(step: Index, value) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise JsonPathError(f"{go_type(value)} is not array or slice")
    n = len(value)
    start = 0 if step.start is None else step.start
    if start < 0:
        start += n
    if step.is_slice:
        end = n if step.end is None else step.end
        if end < 0:
            end += n
    else:
        end = start + 1
    if end == start:
        return []
    if start >= n or start < 0:
        raise JsonPathError(f"array index out of bounds: index {start}, length {n}")
    if end > n or end < 0:
        raise JsonPathError(f"array index out of bounds: index {end - 1}, length {n}")
    if start > end:
        raise JsonPathError(f"starting index {start} is greater than ending index {end}")
    stride = 1 if step.step is None else step.step
    if stride <= 0:
        raise JsonPathError("step must be > 0")
    return value[start:end:stride]


def _filter(step: Filter, value) -> list:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if step.op == "exists":
            try:
                found = _eval(step.left, item)
            except JsonPathError:
                found = []
            if found:
                out.append(item)
            continue
        lefts = _operand(step.left, item)
        rights = _operand(step.right, item)
        if any(_compare(a, step.op, b) for a in lefts for b in rights):
            out.append(item)
    return out


def _operand(operand, item) -> list:
    return _eval(operand, item) if isinstance(operand, Expr) else [operand]


def _number(value):
    if isinstance(value, JsonNumber):
        return value.as_float()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _compare(a, op: str, b) -> bool:
    na, nb = _number(a), _number(b)
    if na is not None and nb is not None:
        a, b = na, nb
    elif type(a) is not type(b) or not isinstance(a, (str, bool)):
        if op in ("==", "!="):
            return (op == "!=")
        raise JsonPathError(f"incomparable types {go_type(a)} and {go_type(b)}")
    if op == "==":
        return a == b
    if op == "!=":
        return a != b
    if isinstance(a, bool):
        raise JsonPathError("incomparable types bool and bool")
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
