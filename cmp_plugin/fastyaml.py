"""The YAML that cmp_plugin reads and writes most, without PyYAML's Python-level loader.

`load_all` reads a subset of YAML: block mappings and sequences, plain scalars on one line,
double-quoted scalars with the escapes json.dumps writes (yaml_scalar's output), single-quoted
scalars, flow collections on one line (yaml_scalar's JSON), `|` literal blocks, comments and
`---`, all in printable ASCII. It gives exactly what `yaml.load_all(text, Loader=CSafeLoader)`
gives (plain scalars resolved by PyYAML's YAML 1.1 rules, `implicit_tag`); on anything else, or
anything it is not sure of, it raises `Unsupported` and the caller reads the text with PyYAML,
which then also reports any error. Being strict costs speed only on text outside the subset;
being lenient could change a value. The templates' output is always inside it (a test says so),
and so are most project files.

Importing PyYAML costs more than a whole render, so this module does not.
"""

from __future__ import annotations

import json
import re


class Unsupported(Exception):
    """The text is outside the subset this reader knows (not necessarily invalid YAML)."""


# ------------------------------------------------------------------------------ plain scalars
# PyYAML's implicit resolvers (yaml/resolver.py, class Resolver, which CSafeLoader and
# CSafeDumper use), in its order: first characters, tag, pattern. Copied, because importing
# yaml costs 15 ms; a test compares them with PyYAML's own.
TAG = "tag:yaml.org,2002:"
IMPLICIT_RESOLVERS = (
    ("yYnNtTfFoO", TAG + "bool", r"""^(?:yes|Yes|YES|no|No|NO
                    |true|True|TRUE|false|False|FALSE
                    |on|On|ON|off|Off|OFF)$""", re.X),
    ("-+0123456789.", TAG + "float", r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
                    |\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
                    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
                    |[-+]?\.(?:inf|Inf|INF)
                    |\.(?:nan|NaN|NAN))$""", re.X),
    ("-+0123456789", TAG + "int", r"""^(?:[-+]?0b[0-1_]+
                    |[-+]?0[0-7_]+
                    |[-+]?(?:0|[1-9][0-9_]*)
                    |[-+]?0x[0-9a-fA-F_]+
                    |[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$""", re.X),
    ("<", TAG + "merge", r"^(?:<<)$", 0),
    (("~", "n", "N", ""), TAG + "null", r"""^(?: ~
                    |null|Null|NULL
                    | )$""", re.X),
    ("0123456789", TAG + "timestamp", r"""^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]
                    |[0-9][0-9][0-9][0-9] -[0-9][0-9]? -[0-9][0-9]?
                     (?:[Tt]|[ \t]+)[0-9][0-9]?
                     :[0-9][0-9] :[0-9][0-9] (?:\.[0-9]*)?
                     (?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$""", re.X),
    ("=", TAG + "value", r"^(?:=)$", 0),
    ("!&*", TAG + "yaml", r"^(?:!|&|\*)$", 0),
)
RESOLVABLE = frozenset(char for chars, *_ in IMPLICIT_RESOLVERS for char in chars)
_by_first: dict = {}  # first character ('' for the empty string) -> [(tag, compiled pattern)]


# Every character that a match of one of those patterns can hold: text with any other is a str.
# ("\n" too: `$` matches before a final line break.)
_IMPLICIT_CHARS = frozenset("0123456789-+._:~<=!&* \t\nabcdefABCDEFxoOnNtTyYsSrRuUlLiIZ")
_WORDS_TAGS = {word: TAG + "bool" for word in "yes Yes YES no No NO true True TRUE false False FALSE on On ON off Off OFF".split()}
_WORDS_TAGS.update({"~": TAG + "null", "null": TAG + "null", "Null": TAG + "null", "NULL": TAG + "null", "": TAG + "null"})


def implicit_tag(text: str) -> str:
    """The tag PyYAML's resolver gives a plain scalar: Resolver.resolve(ScalarNode, text, (True, False))."""
    if text and text[0] not in RESOLVABLE:
        return TAG + "str"
    tag = _WORDS_TAGS.get(text)
    if tag is not None:
        return tag
    if text.isascii() and text.isdigit() and (text[0] != "0" or text == "0"):
        return TAG + "int"  # decimal: no float, timestamp or other int pattern matches digits alone
    if text.isalpha() or not set(text) <= _IMPLICIT_CHARS:  # letters alone: only the words above
        return TAG + "str"
    if not _by_first:  # compiled on first use: most renders need only some of them
        for chars, tag, pattern, flags in IMPLICIT_RESOLVERS:
            compiled = re.compile(pattern, flags)
            for char in chars:
                _by_first.setdefault(char, []).append((tag, compiled))
    for tag, pattern in _by_first.get(text[:1], ()):
        if pattern.match(text):
            return tag
    return TAG + "str"


_BOOLS = {"yes": True, "no": False, "true": True, "false": False, "on": True, "off": False}  # SafeConstructor.bool_values
_resolved: dict = {}


def _decimal(text: str) -> bool:
    digits = text[1:] if text[0] in "+-" else text
    return digits.isascii() and digits.isdigit() and (digits == "0" or digits[0] != "0")


def _resolve(text: str):
    """A plain scalar's value, as PyYAML's SafeLoader constructs it."""
    if text[0] not in RESOLVABLE:
        return text
    try:
        return _resolved[text]
    except KeyError:
        pass
    tag = implicit_tag(text)
    if tag == TAG + "str":
        value = text
    elif tag == TAG + "null":
        value = None
    elif tag == TAG + "bool":
        value = _BOOLS[text.lower()]
    elif tag == TAG + "int" and _decimal(text):
        value = int(text)
    else:  # floats, timestamps, octal or sexagesimal ints, merge keys, '=': PyYAML's business
        raise Unsupported(f"plain scalar {text!r} resolves to {tag}")
    if len(_resolved) < 4096:
        _resolved[text] = value
    return value


# ------------------------------------------------------------------------------ the reader

# Only printable ASCII and line feeds: yaml_scalar escapes everything else; anything else (tabs,
# carriage returns, non-ASCII text, whose line breaks YAML counts differently) goes to PyYAML.
_PRINTABLE = bytes(range(0x20, 0x7F)) + b"\n"

# A mapping key: double-quoted (the escapes json.dumps writes, as yaml_scalar leaves them) or a
# plain word, then ':' and a space or the end of the line.
_ESCAPES = r'(?:\\(?:["\\nrtbf]|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}))'
_DQ_BODY = r'[^"\\]*(?:' + _ESCAPES + r'[^"\\]*)*'
_KEY = re.compile(r'(?:"(' + _DQ_BODY + r')"|([A-Za-z0-9_./][A-Za-z0-9_./-]*)):(?: +|$)')
_DQ = re.compile(r'"(' + _DQ_BODY + r')"')
# yaml_scalar's lists and dicts: json.dumps text, which reads the same as JSON and as YAML when it
# holds only these tokens (no floats, no surrogate escapes, json.dumps's separators). Longer text
# might hold a key over 1024 characters, which YAML reads differently: the slow path checks it.
_JSON_TOKENS = re.compile(r'(?:[\[\]{}]|, |: |"[^"\\]*(?:\\(?:["\\nrtbf]|u(?![dD][89a-fA-F])[0-9A-Fa-f]{4})[^"\\]*)*"'
                          r'|-?(?:0|[1-9][0-9]*)(?![0-9])|true|false|null)+ *')  # a number is all its digits: no backtracking
_JSON_MAX = 1000


def _unique_pairs(pairs: list) -> dict:
    value = dict(pairs)
    if len(value) != len(pairs):
        raise Unsupported("a key given twice")
    return value


_JSON = json.JSONDecoder(object_pairs_hook=_unique_pairs)
# YAML's simple keys end within 1024 characters of their start; PyYAML refuses longer ones.
_MAX_KEY = 1000
_ESCAPE = re.compile(r'\\(?:(["\\])|([nrtbf])|u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8}))')
_CONTROL = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}
# Characters a plain scalar may not start with in block context (YAML 1.1 indicators).
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")


def _unescape(match: re.Match) -> str:
    quote, control, u4, u8 = match.groups()
    if quote:
        return quote
    if control:
        return _CONTROL[control]
    code = int(u4 or u8, 16)
    if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
        raise Unsupported("escaped code point that YAML refuses")
    return chr(code)


def _double_quoted(body: str) -> str:
    return _ESCAPE.sub(_unescape, body) if "\\" in body else body


def _end_of_value(line: str, pos: int) -> None:
    """Only spaces and a comment may follow a value on its line."""
    rest = line[pos:]
    after = rest.lstrip(" ")
    if after and (after[0] != "#" or after is rest):
        raise Unsupported("text after a value")


def _plain(text: str):
    """A plain scalar standing alone on the rest of a line (block context)."""
    cut = text.find(" #")
    if cut >= 0:
        text = text[:cut]
    text = text.rstrip(" ")
    first = text[0]
    if first in _INDICATORS and not (first in "-?:" and len(text) > 1 and text[1] != " "):
        raise Unsupported("plain scalar starting with an indicator")
    if ": " in text or text.endswith(":"):
        raise Unsupported("plain scalar with a value indicator")
    return _resolve(text)


def _skip_spaces(line: str, pos: int) -> int:
    while line.startswith(" ", pos):
        pos += 1
    return pos


def _flow(line: str, pos: int):
    """(value, end) of the flow node at line[pos]; no line breaks inside."""
    char = line[pos] if pos < len(line) else ""
    if char == '"':
        m = _DQ.match(line, pos)
        if m is None:
            raise Unsupported("double-quoted scalar")
        return _double_quoted(m.group(1)), m.end()
    if char == "[":
        return _flow_collection(line, pos, [], "]")
    if char == "{":
        return _flow_collection(line, pos, {}, "}")
    if char == "'":
        return _single_quoted(line, pos)
    return _flow_word(line, pos)


def _flow_collection(line: str, pos: int, out, close: str):
    """(out, end) of the flow sequence (out a list) or flow mapping (out a dict) opened at line[pos]."""
    pos = _skip_spaces(line, pos + 1)
    if line.startswith(close, pos):
        return out, pos + 1
    while True:
        if type(out) is list:
            value, pos = _flow(line, pos)
            out.append(value)
        else:
            pos = _flow_entry(line, pos, out)
        pos = _skip_spaces(line, pos)
        if line.startswith(close, pos):
            return out, pos + 1
        if not line.startswith(",", pos):
            raise Unsupported("flow sequence" if type(out) is list else "flow mapping")
        pos = _skip_spaces(line, pos + 1)


def _flow_entry(line: str, pos: int, out: dict) -> int:
    """Reads the `key: value` at line[pos] into out; its end."""
    start = pos
    key, pos = _flow(line, pos)
    if pos - start >= _MAX_KEY:
        raise Unsupported("a key too long for a simple key")
    if type(key) is not str:  # and a project file's loader would keep the key's text
        raise Unsupported("a key that is not a string")
    pos = _skip_spaces(line, pos)
    if not line.startswith(": ", pos):
        raise Unsupported("flow mapping entry")
    value, pos = _flow(line, _skip_spaces(line, pos + 1))
    if key in out:
        raise Unsupported("a key given twice")  # PyYAML keeps the last; a project file may not
    out[key] = value
    return pos


def _single_quoted(line: str, pos: int):
    """(value, end) of the single-quoted scalar at line[pos]: '' is a quote inside; no line breaks."""
    end = pos + 1
    while True:
        end = line.find("'", end)
        if end < 0:
            raise Unsupported("single-quoted scalar")
        if not line.startswith("'", end + 1):
            return line[pos + 1:end].replace("''", "'"), end + 1
        end += 2


def _flow_word(line: str, pos: int):
    """(value, end) of a plain scalar in a flow collection: a word of letters, digits and `_./=-`
    (a `:` inside when a word character follows), then a separator; no spaces, no other indicators."""
    end = pos
    while end < len(line) and (line[end] in _WORD_CHARS
                               or (line[end] == ":" and end + 1 < len(line) and line[end + 1] in _WORD_CHARS)):
        end += 1
    word = line[pos:end]
    if not word or word == "-" or word[0] == ":" or not line.startswith((",", "]", "}", " ", ":"), end):
        raise Unsupported("flow scalar")
    return _resolve(word), end


_MAP, _SEQ, _INDENTLESS = 0, 1, 2  # kinds of open block collections
# What a line holds, once its indentation is taken off (see _classify).
_ENTRY, _OPEN, _OTHER_ENTRY, _DASH, _SCALAR, _FLOW, _BLANK, _DOC = range(8)


def _inline(content: str, start: int):
    """The value that starts at content[start], alone on the rest of its line."""
    char = content[start]
    if char in "[{" and len(content) - start <= _JSON_MAX and _JSON_TOKENS.fullmatch(content, start):
        try:
            return _JSON.decode(content[start:])
        except ValueError:
            pass
    if char in "\"'[{":
        value, end = _flow(content, start)
        _end_of_value(content, end)
        return value
    return _plain(content[start:])


def _copy(value):
    if type(value) is dict:
        return {key: _copy(item) for key, item in value.items()}
    if type(value) is list:
        return [_copy(item) for item in value]
    return value


def _collection(content: str, start: int, seen: dict):
    """A flow collection: parsed once per render, then copied (no two places may share one)."""
    text = content[start:]
    value = seen.get(text)
    if value is None:
        value = seen[text] = _inline(content, start)
        return value
    return _copy(value)


def _classify(content: str, indent: int) -> tuple:
    """What a line holds, as (indent, kind, a, b); scalars are parsed here (lines repeat, so this
    is cached), collections later (each needs new objects):
    _ENTRY key value; _OPEN key: `key:`, its value on the next lines; _OTHER_ENTRY content:
    another mapping entry; _DASH offset-of-the-rest (indent, kind, a, b)-of-the-rest, or None
    when the item is on the next lines; _SCALAR value and _FLOW content: an item after a dash."""
    if content[0] == "-" and (len(content) == 1 or content[1] == " "):
        rest = content[1:].lstrip(" ")
        if not rest or rest[0] == "#":
            return (indent, _DASH, 0, None)
        offset = len(content) - len(rest)
        return (indent, _DASH, offset, _classify(rest, indent + offset))
    if content[0] == '"':  # a sequence item `- "text"`
        text = content[1:-1]
        if content[-1] == '"' and len(content) > 1 and '"' not in text and "\\" not in text:
            return (indent, _SCALAR, text, None)
    else:  # the common lines, without a regular expression: `word: "text"`, `word: word`, `word:`
        key, colon, value = content.partition(": ")
        if (colon or content[-1] == ":") and len(key) < _MAX_KEY:
            word = _WORDS.get(key if colon else content[:-1]) or _word(key if colon else content[:-1])
            if word and type(word[0]) is str and word[0] != "<<":
                if not colon:
                    return (indent, _OPEN, word[0], None)
                if not value:
                    pass
                elif value[0] == '"' and value[-1] == '"' and len(value) > 1:
                    text = value[1:-1]
                    if '"' not in text and "\\" not in text:
                        return (indent, _ENTRY, word[0], text)
                else:
                    scalar = _WORDS.get(value) or _word(value)
                    if scalar:
                        return (indent, _ENTRY, word[0], scalar[0])
        elif not colon:  # a sequence item `- word`
            word = _WORDS.get(content) or _word(content)
            if word:
                return (indent, _SCALAR, word[0], None)
    return _other_line(content, indent)


def _other_line(content: str, indent: int) -> tuple:
    """_classify's answer for the lines its common cases leave: any mapping entry, a flow
    collection or another scalar after a dash."""
    m = _KEY.match(content)
    if m is not None:
        if max(m.end(1) + 1, m.end(2)) >= _MAX_KEY:
            raise Unsupported("a key too long for a simple key")
        quoted, plain = m.groups()
        if plain is None:
            key = _double_quoted(quoted)
        else:
            key = _resolve(plain)
            if type(key) is not str or key == "<<":
                raise Unsupported("key that is not a string")
        end = m.end()
        if end == len(content) or content[end] == "#":
            return (indent, _OPEN, key, None)
        if content[end] in "|[{":
            return (indent, _OTHER_ENTRY, key, (content, end))
        return (indent, _ENTRY, key, _inline(content, end))
    if content[0] in "[{":
        return (indent, _FLOW, content, None)
    if content[0] in "|>":
        raise Unsupported("block scalar")
    return (indent, _SCALAR, _inline(content, 0), None)


# A plain word (letters, digits and `_./=-`, not `-` alone) -> (its value,), and anything else
# that was asked -> (): template text repeats the same words.
_WORDS: dict = {}
_WORD_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./=-"


def _word(text: str) -> tuple:
    if not text or text == "-" or text.strip(_WORD_CHARS):
        found = ()
    else:
        found = (_resolve(text),)
    if len(_WORDS) < 10_000:
        _WORDS[text] = found
    return found


# Blank lines, comments and `---` have indent -2: no open collection has it.
_BLANK_LINE = (-2, _BLANK, None, None)


def _line(line: str) -> tuple:
    """(indent, kind, a, b) of a line: _classify's, or _BLANK (blank or comment) or _DOC (`---`)."""
    content = line.lstrip(" ")
    if not content or content[0] == "#":
        return _BLANK_LINE
    indent = len(line) - len(content)
    if indent == 0 and content[0] in "-.%" and content.startswith(("---", "...", "%")):
        if content != "---":
            raise Unsupported("document marker or directive")
        return (-2, _DOC, None, None)
    return _classify(content, indent)


def load_all(text: str) -> list:
    """The documents of the templates' output, empty ones left out, as the caller's
    `[d for d in yaml.load_all(text, Loader=CSafeLoader) if d is not None]`; Unsupported when
    the text is outside the subset."""
    try:
        return _load_all(text)
    except Unsupported:
        raise
    except Exception as exc:  # a case this reader did not foresee: PyYAML's business
        raise Unsupported(f"{type(exc).__name__}: {exc}") from exc


def load_one(text: str) -> tuple:
    """The value of a one-document file, as PyYAML reads it (None when it has no document)."""
    lines = text.split("\n")
    markers = [i for i, line in enumerate(lines) if line.startswith(("---", "..."))]
    if len(markers) > 1 or (markers and any(line.strip(" ") and line.lstrip(" ")[0] != "#"
                                            for line in lines[:markers[0]])):
        raise Unsupported("several documents")  # PyYAML reads them, and refuses them
    docs = load_all(text)
    return docs[0] if docs else None


# The reader keeps the innermost open block collection as (indent, container, kind) in local
# variables and the ones around it on a stack: the common lines (`key: value` and `key:` in
# that mapping, and the end of deeper collections) take no function call. Lines with dashes and
# other values go to _place.

def _load_all(text: str) -> list:
    """The documents; a key given twice is Unsupported (PyYAML keeps the last value, and a
    project file may not have one)."""
    if not text.isascii() or text.encode("ascii").translate(None, _PRINTABLE):
        raise Unsupported("characters outside printable ASCII")
    lines = text.split("\n")
    seen: dict = {}  # line -> _line(line): most lines of a render repeat
    flows: dict = {}  # flow collection text -> its first value
    docs = []
    count = len(lines)
    i = 0
    at, container, kind_at, stack = -1, None, _MAP, []
    while i < count:
        line = lines[i]
        i += 1
        hit = seen.get(line)
        if hit is None:
            hit = seen[line] = _line(line)
        indent, kind, a, b = hit
        if indent != at:
            if kind >= _BLANK:
                if kind == _DOC:  # at -1: the next line starts the document
                    at, container, kind_at, stack = -1, None, _MAP, []
                continue
            while indent < at:
                at, container, kind_at = stack.pop()
            if indent != at:
                at, container = _root(indent, kind, at, docs)
        if kind_at == _MAP and kind <= _OPEN:
            if a in container:
                raise Unsupported("a key given twice")
            if kind == _ENTRY:
                container[a] = b  # the common line
                continue
        else:
            i, at, container, kind_at, pending = _place(hit, at, container, kind_at, stack, lines, i, flows)
            if pending is None:
                continue
            indent, a = pending
        # `key:` (key a) or `-` at indent: the value is the block collection on the next lines, or
        # null; only a key's sequence may be indentless (its dashes at the key's indent)
        nxt = seen.get(lines[i]) if i < count else None
        if nxt is None or nxt[1] >= _BLANK:  # not seen yet, blank, or `---`
            nxt = _next(lines, i, seen)
        child = None
        if nxt is not None and (nxt[0] > indent or (nxt[0] == indent and nxt[1] == _DASH and kind_at == _MAP)):
            child = [] if nxt[1] == _DASH else {}
        if kind_at == _MAP:
            container[a] = child
        else:
            container.append(child)
        if child is not None:
            stack.append((at, container, kind_at))
            at, container = nxt[0], child
            kind_at = _MAP if nxt[1] != _DASH else (_SEQ if nxt[0] > indent else _INDENTLESS)
    return docs


def _root(indent: int, kind: int, at: int, docs: list) -> tuple:
    """(0, the root mapping) of the document whose first line this is."""
    if at != -1:
        raise Unsupported("indentation")
    if indent or kind == _DASH:
        raise Unsupported("document that is not a mapping at column 0")
    container: dict = {}
    docs.append(container)
    return 0, container


def _place(hit: tuple, at: int, container, kind_at: int, stack: list, lines: list[str], i: int,
           flows: dict) -> tuple:
    """Puts the line `hit` (lines[i - 1]) into the open collection (at, container, kind_at) and
    opens the collections it starts on its line. (The next line to read, the open collection,
    pending), where pending is (indent, key) of a `key:` or `-` (key None) whose value is on the
    next lines, or None."""
    indent, kind, a, b = hit
    if kind_at == _INDENTLESS and kind != _DASH:  # the end of a key's indentless sequence
        at, container, kind_at = stack.pop()
        if indent != at:
            raise Unsupported("indentation")
    while kind_at != _MAP:  # a sequence: the item after each dash on the line
        if kind != _DASH:
            raise Unsupported("sequence entry")
        if b is None:
            return i, at, container, kind_at, (indent, None)
        _, kind, rest_a, rest_b = b
        if kind == _SCALAR:
            container.append(rest_a)
            return i, at, container, kind_at, None
        if kind == _FLOW:
            container.append(_collection(rest_a, 0, flows))
            return i, at, container, kind_at, None
        child = [] if kind == _DASH else {}
        container.append(child)
        stack.append((at, container, kind_at))
        at, container, kind_at = indent + a, child, (_SEQ if kind == _DASH else _MAP)
        indent, a, b = at, rest_a, rest_b
    if a in container:
        raise Unsupported("a key given twice")
    if kind == _ENTRY:
        container[a] = b
        return i, at, container, kind_at, None
    if kind == _OPEN:
        return i, at, container, kind_at, (indent, a)
    if kind != _OTHER_ENTRY:
        raise Unsupported("mapping entry")
    i, a = _entry(a, b[0], b[1], container, indent, lines, i, flows)
    return i, at, container, kind_at, (None if a is None else (indent, a))


def _next(lines: list[str], i: int, seen: dict):
    """The next line that is not blank, as _line gives it, or None at the end of the document."""
    while i < len(lines):
        line = lines[i]
        hit = seen.get(line)
        if hit is None:
            hit = seen[line] = _line(line)
        if hit[1] == _DOC:
            return None
        if hit[1] != _BLANK:
            return hit
        i += 1
    return None


def _entry(key: str, content: str, end: int, container: dict, indent: int, lines: list[str], i: int,
           flows: dict):
    """A mapping entry whose value starts at content[end] and is not a one-line scalar:
    (next line, the key when its value is on the next lines, else None)."""
    if end == len(content) or content[end] == "#":
        return i, key
    if content[end] == "|":
        if content[end:].rstrip(" ") != "|":
            raise Unsupported("block scalar header")
        container[key], i = _literal(lines, i, indent)
    elif content[end] in "[{":
        container[key] = _collection(content, end, flows)
    else:
        container[key] = _inline(content, end)
    return i, None


def _literal(lines: list[str], i: int, indent: int):
    """(text, next line) of a `|` block scalar under an entry at `indent`: clip chomping,
    indentation detected from the first line."""
    if i >= len(lines) or not lines[i]:
        raise Unsupported("literal block starts with an empty line")
    first = lines[i]
    width = len(first) - len(first.lstrip(" "))
    if width <= indent:
        raise Unsupported("empty literal block")
    prefix = " " * width
    out = []
    while i < len(lines):
        line = lines[i]
        if not line:
            out.append("")
        elif not line.strip(" "):  # YAML's rules for these are subtle: PyYAML's business
            raise Unsupported("line of spaces in a literal block")
        elif line.startswith(prefix):
            out.append(line[width:])
        else:
            break
        i += 1
    while out and not out[-1]:
        out.pop()
    return "\n".join(out) + "\n", i
