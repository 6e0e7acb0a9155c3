"""The render's own YAML reader and writer agree with PyYAML.

The render reads the templates' output with `render.reader` and writes the manifests with
`emit.dump` instead of PyYAML's Python-level loader and CSafeDumper. Both promise PyYAML's exact
result: the reader the same objects as `yaml.load_all(text, Loader=CSafeLoader)`, or `Unsupported`
(then PyYAML reads the text); the writer the same bytes as `yaml.dump_all(..., Dumper=CSafeDumper)`,
or PyYAML writes them. Checked on every example with every settings variant and secrets mode (and
there the fast paths must be taken), on hostile values in every template context, on generated
YAML-like text, and on generated object trees.
"""

from __future__ import annotations

import copy
import re

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings as hsettings, strategies as st

from cmp_plugin import emit, pipeline, render
from cmp_plugin.problems import Failure
from cmp_plugin import fastyaml as reader
from cmp_plugin.render import environment, yaml_scalar
from cmp_plugin.secrets.operators import apply_mode

from yamlcases import FRAGMENTS, same

from ._support import EXAMPLE_FILES, SETTINGS_VARIANTS, settings_for
from .test_injection import HOSTILE

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MODES = ("inline", "external-secrets", "vault-secrets-operator")


def pyyaml_docs(text: str) -> list:
    return [d for d in yaml.load_all(text, Loader=LOADER) if d is not None]


def examples(n: int):
    return hsettings(max_examples=n, deadline=None, phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink),
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])


def _render_cases():
    for path in EXAMPLE_FILES:
        for variant in SETTINGS_VARIANTS:
            for mode in MODES:
                yield pytest.param(path, variant, mode, id=f"{path.stem}-{variant}-{mode}")


def _rendered(path, variant, mode):
    env = dict(SETTINGS_VARIANTS[variant], CMP_SECRETS_MODE=mode)
    settings = settings_for(env)
    project = pipeline.load_project(str(path), settings=settings)
    return project, settings, render.render_text(project, settings)


# ----------------------------------------------------------------------------- every render


@pytest.mark.parametrize("path, variant, mode", list(_render_cases()))
def test_every_render_is_read_and_written_as_pyyaml_would(path, variant, mode):
    project, settings, text = _rendered(path, variant, mode)
    docs = reader.load_all(text)  # the fast path: raises Unsupported if the templates left the subset
    assert same(docs, pyyaml_docs(text))
    if mode != "inline":
        docs = apply_mode(docs, project, settings)
    docs = sorted(docs, key=emit.sort_key)
    assert emit._dump(docs) == emit.dump_with_pyyaml(docs)  # the fast path, byte for byte


def test_resolved_secret_values_are_written_as_pyyaml_would():
    """After `--secrets resolve`, Secrets hold whatever Vault holds."""
    _, _, text = _rendered(EXAMPLE_FILES[0], "defaults", "inline")
    docs = reader.load_all(text)
    secrets = [d for d in docs if d["kind"] == "Secret"]
    assert secrets
    for i, value in enumerate(HOSTILE):
        if "\ud800" in value:
            continue  # not UTF-8: Vault cannot hold it
        doc = secrets[i % len(secrets)]
        key = next(iter(doc["stringData"]))
        doc["stringData"][key] = value
        assert emit.dump(docs) == emit.dump_with_pyyaml(docs), repr(value[:60])


# ----------------------------------------------------------------------------- the reader

# `{{ v }}` in the places templates put it; v goes through yaml_scalar (the finalize).
TEMPLATE_CONTEXTS = [
    "k: {{ v }}\nnext: 1\n",
    "k:\n  - {{ v }}\n  - x\nnext: 1\n",
    "{{ v }}: 1\nnext: 1\n",
    "k:\n  - {{ v }}: 1\n    b: {{ v }}\n",
    "k: [{{ v }}, x, \"y\"]\n",
    "k: {{ [v, v] }}\n",
    "k: {{ {\"a\": v, \"b\": [v, 1, true, none]} }}\n",
    "k: {{ {v: 1} }}\n",
    "k:\n    - - {{ v }}\n      - a: {{ v }}\n",
    "# {{ v }}\nk: {{ v }}  # {{ v }}\n",
    "---\na: 1\n---\nk: {{ v }}\n---\n",
]

# Code points where JSON, YAML and libyaml's emitter part ways: surrogates, controls, breaks, BOM, ...
TRICKY = ["\ud800", "\udc00", "\udfff", "\x00", "\x07", "\t", "\n", "\r", "\x1b", "\x7f", "\x85", "\xa0", "\u2028",
          "\u2029", "\ufeff", "\ufffe", "\U0001F680", "\U0010FFFF", "\xe9", '"', "\\", "'", "#", ":", " ", "-", "a", "1"]
strings = st.one_of(
    st.lists(st.sampled_from(TRICKY), max_size=6).map("".join),
    st.sampled_from([h for h in HOSTILE if len(h) < 5000]),
    st.text(st.characters(blacklist_categories=()), max_size=40),  # surrogates and controls included
    st.text(" \n\t'\"#:-?[]{},&*!|>%@`\\~0123456789.eExXoObByYnNtTfF+_=</", max_size=12),
    st.sampled_from(["0x1F", "0o17", "017", "1e3", "1.5", ".5", "1_000", "1:20", "yes", "No", "ON", "~", "null", "",
                     "2001-12-14", "2001-12-14t21:59:43.10-05:00", "<<", "=", ".inf", "-.INF", ".NaN", "+1", "-0"]),
    st.integers(1, 3000).map(lambda n: "k" * n),
)


def _read(text: str):
    """('ok', docs) from the reader's own parser (no safety net but for deep nesting), or
    ('unsupported', None)."""
    try:
        return "ok", reader._load_all(text)
    except (reader.Unsupported, RecursionError):
        return "unsupported", None


@examples(400)
@given(value=strings, template=st.sampled_from(TEMPLATE_CONTEXTS))
def test_reader_reads_hostile_values_as_pyyaml_does(value, template):
    text = environment().from_string(template).render(v=value)
    outcome, docs = _read(text)
    try:
        expected = pyyaml_docs(text)
    except yaml.YAMLError:
        assert outcome == "unsupported"  # never read what PyYAML refuses
        return
    if outcome == "ok":
        assert same(docs, expected)
    elif len(value) < 300 and "\ud800" not in value:
        # what yaml_scalar writes is always in the subset: the fast path is taken
        pytest.fail(f"reader refused yaml_scalar output: {text[:200]!r}")


@st.composite
def yaml_like(draw):
    lines = draw(st.lists(st.tuples(st.sampled_from([0, 0, 1, 2, 2, 3, 4, 4, 6]), st.sampled_from(FRAGMENTS)),
                          min_size=1, max_size=12))
    return "".join(" " * indent + fragment + "\n" for indent, fragment in lines)


@examples(1000)
@given(text=yaml_like())
def test_reader_on_yaml_like_text_agrees_or_refuses(text):
    """Text the templates never write: the reader gives PyYAML's objects or refuses, and never
    reads what PyYAML refuses."""
    outcome, docs = _read(text)
    try:
        expected = pyyaml_docs(text)
    except (yaml.YAMLError, ValueError, TypeError):  # PyYAML errors, or constructor errors
        assert outcome == "unsupported", text
        return
    if outcome == "ok":
        assert same(docs, expected), text


PLAIN_WORDS = [
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE",
    "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL", "~", "0", "00", "01", "09", "0o7", "0x1f", "0b101",
    "1_000", "1:30", "-1", "+1", "-0", "1.5", "1e3", "1.0e+3", "6.8523015e+5", ".inf", "-.Inf", ".NaN", "2001-12-14",
    "2001-12-14t21:59:43.10-05:00", "<<", "=", "yess", "ontology", "nullable", "truex", "x1", "1x", "0xg", "-", "--x",
    "-x", "?x", ":x", "a:b", "a#b", "a.b/c-d_e=f", "v1", "1Gi", "250m", "-Pfoo", "1\n", "true\n", "0x1F\n", "1:2\n",
    "2001-12-14\n", "123456789", "0777", "0778", "١٢٣",
]


def test_the_resolver_table_is_pyyaml_s():
    """fastyaml copies PyYAML's implicit resolvers (importing yaml costs more than a render)."""
    from yaml.resolver import Resolver

    ours: dict = {}
    for chars, tag, pattern, flags in reader.IMPLICIT_RESOLVERS:
        for char in chars:
            ours.setdefault(char, []).append((tag, re.compile(pattern, flags)))
    theirs = Resolver.yaml_implicit_resolvers
    assert sorted(ours, key=str) == sorted(theirs, key=str)
    for char, resolvers in theirs.items():
        assert [(tag, rx.pattern, rx.flags) for tag, rx in resolvers] == \
            [(tag, rx.pattern, rx.flags) for tag, rx in ours[char]], char


@examples(1000)
@given(text=st.one_of(st.sampled_from(PLAIN_WORDS), st.text("0123456789-+._:eExXoObBaAfFnNtTyYlLsSuUiI~<=!&* Zz\t\ngGmMvVkK/",
                                                            max_size=14)))
def test_implicit_tags_are_pyyaml_s(text):
    from yaml.nodes import ScalarNode
    from yaml.resolver import Resolver

    assert reader.implicit_tag(text) == Resolver().resolve(ScalarNode, text, (True, False))


@pytest.mark.parametrize("word", PLAIN_WORDS)
def test_plain_scalars_resolve_as_pyyaml_resolves_them(word):
    for text in (f"a: {word}\n", f"a:\n  - {word}\n", f"a: [{word}, x]\n", f"{word}: 1\n", f"a:\n  - {word}: 1\n"):
        outcome, docs = _read(text)
        try:
            expected = pyyaml_docs(text)
        except (yaml.YAMLError, ValueError, TypeError):
            assert outcome == "unsupported", text
            continue
        assert outcome == "unsupported" or same(docs, expected), text


@pytest.mark.parametrize("text, expected", [
    ("a:\n- x\n- y\nb: 1\n", [{"a": ["x", "y"], "b": 1}]),  # a sequence at its key's indent
    ("a:\n  b:\n  c: 1\n", [{"a": {"b": None, "c": 1}}]),
    ("a: |\n  line one\n    indented\n\n  last\n\n\nb: 1\n", [{"a": "line one\n  indented\n\nlast\n", "b": 1}]),
    ("k: [ALL, \"x\"]\nl: {\"a\": [1, {\"b\": null}]}\n", [{"k": ["ALL", "x"], "l": {"a": [1, {"b": None}]}}]),
    ("- - a\n  - b\n", None),  # a document that is a sequence: PyYAML's business
    ("k: \"\\u00e9\\U0001F600\\n\\\"\"\n", [{"k": "\u00e9\U0001F600\n\""}]),
    ("k: yes\nl: \"yes\"\nm: 0\nn: -12\no: ~\n", [{"k": True, "l": "yes", "m": 0, "n": -12, "o": None}]),
])
def test_reader_examples(text, expected):
    if expected is None:
        with pytest.raises(reader.Unsupported):
            reader.load_all(text)
    else:
        assert same(reader.load_all(text), expected) and same(pyyaml_docs(text), expected)


@pytest.mark.parametrize("value", ["\udc00", "\ud800", "\ud83d\ude00", "x\udfffy", "\ufffe", "\U0010ffff"])
@pytest.mark.parametrize("template", TEMPLATE_CONTEXTS)
def test_surrogates_are_refused_as_pyyaml_refuses_them(value, template):
    """JSON reads an escaped lone surrogate; YAML refuses it: so must the reader."""
    text = environment().from_string(template).render(v=value)
    outcome, docs = _read(text)
    try:
        expected = pyyaml_docs(text)
    except yaml.YAMLError:
        assert outcome == "unsupported"
        return
    assert outcome == "ok" and same(docs, expected)


@pytest.mark.parametrize("text", [
    "a: [" + "1" * 80 + ", x]\n",  # a number token that could be split into shorter ones, then a failure
    "a: [" + "1" * 80 + ", \"x\"] x\n",
    "a: {\"k\": " + "9" * 80 + "1, \"l\": x}\n",
    "a: \"" + "\\u0041" * 2000 + "\"\n",
    "a: \"" + "\\" * 3001 + "\n",
    "a: " + "[" * 3000 + "]" * 3000 + "\n",
    "- " * 3000 + "x\n",
])
def test_hostile_text_is_read_or_refused_at_once(text):
    """A project file is untrusted: nothing in the reader backtracks over its input (a pattern that
    did would make these take hours; they take microseconds)."""
    outcome, docs = _read(text)
    try:
        expected = pyyaml_docs(text)
    except (yaml.YAMLError, RecursionError):
        assert outcome == "unsupported"
        return
    assert outcome == "unsupported" or same(docs, expected)


def test_render_falls_back_to_pyyaml_outside_the_subset(monkeypatch):
    """A template that writes YAML the reader does not know still renders (through PyYAML), and a
    template that writes invalid YAML still fails with PyYAML's words."""
    project, settings, _ = _rendered(EXAMPLE_FILES[0], "defaults", "inline")
    folded = "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: >-\n    folded\n    text\n"
    monkeypatch.setattr(render, "render_text", lambda *_: folded)
    assert render.render(project, settings) == [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"},
                                                  "data": {"a": "folded text"}}]
    monkeypatch.setattr(render, "render_text", lambda *_: "---\na: [\n")
    with pytest.raises(Failure) as failure:
        render.render(project, settings)
    assert "templates produced invalid YAML" in failure.value.problems[0].format()


# ----------------------------------------------------------------------------- the writer


scalars = st.one_of(strings, st.integers(-10**20, 10**20), st.booleans(), st.none())
keys = st.one_of(strings.filter(lambda s: len(s) < 200), st.sampled_from(["name", "a" * 128, "é" * 64, "é" * 65]))
trees = st.recursive(scalars, lambda children: st.one_of(st.lists(children, max_size=4),
                                                            st.dictionaries(keys, children, max_size=4)),
                     max_leaves=20)


@examples(300)
@given(docs=st.lists(st.dictionaries(keys, trees, min_size=1, max_size=5), min_size=1, max_size=3))
def test_writer_writes_what_pyyaml_writes(docs):
    try:
        expected = emit.dump_with_pyyaml(docs)
    except Exception as exc:  # a lone surrogate is no UTF-8: both refuse it the same way
        with pytest.raises(type(exc)):
            emit.dump(docs)
        return
    try:
        written = emit._dump(docs)
    except emit._Unsupported:
        return  # PyYAML writes it: emit.dump's answer is expected by construction
    assert written == expected


@pytest.mark.parametrize("docs", [
    [{"a": 1.5, "b": float("inf")}],  # floats
    [{"a": {"b": [1]}, "c": None, "d": []}],
    [{"k" * 129: 1}],  # not a simple key: `? key`
    [{"a\nb": 1}],  # a multi-line key
    [{"a": "line\nline"}],  # single-quoted over two lines
    [{"a": "x" * 60_000}],  # long enough to fold
])
def test_writer_hands_the_rest_to_pyyaml(docs):
    assert emit.dump(docs) == emit.dump_with_pyyaml(docs)


def test_writer_refuses_what_pyyaml_refuses():
    assert emit.dump([{"a": (1, 2)}]) == emit.dump_with_pyyaml([{"a": (1, 2)}])  # a tuple: PyYAML writes a list
    for docs in ([{"a": object()}], [{"a": "\ud800"}], [{"\ud800": 1}]):
        with pytest.raises(Exception) as ours:
            emit.dump(docs)
        with pytest.raises(Exception) as theirs:
            emit.dump_with_pyyaml(docs)
        assert type(ours.value) is type(theirs.value)


def test_an_object_used_twice_is_written_as_pyyaml_writes_it():
    """PyYAML writes an anchor and an alias; the writer must not write two copies."""
    shared = {"drop": ["ALL"]}
    docs = [{"a": shared, "b": shared}]
    assert emit.dump(docs) == emit.dump_with_pyyaml(docs) and "&id001" in emit.dump(docs)
    with pytest.raises(emit._Unsupported):
        emit._dump(docs)


def test_reader_output_shares_no_objects():
    """Repeated flow collections are parsed once and copied: no object appears twice in the output
    (PyYAML would write it with an anchor)."""
    _, _, text = _rendered(EXAMPLE_FILES[0], "defaults", "inline")
    seen = set()

    def walk(value):
        if isinstance(value, (dict, list)):
            assert id(value) not in seen
            seen.add(id(value))
            for item in value.values() if isinstance(value, dict) else value:
                walk(item)

    for doc in reader.load_all(text):
        walk(doc)


def test_caches_do_not_change_what_a_value_becomes():
    """The module caches (str -> text) never mix up values that compare equal across types."""
    docs = [{"a": 1, "b": True, "c": "1", "d": "true", "e": 0, "f": False, "g": "0", "h": None, "i": "null", "j": ""}]
    assert emit.dump(copy.deepcopy(docs)) == emit.dump_with_pyyaml(docs)
    assert emit.dump(docs) == emit.dump_with_pyyaml(docs)
    assert yaml_scalar("1") == '"1"' and yaml_scalar(1) == "1" and yaml_scalar(True) == "true"
