"""The template safety rule: every `{{ }}` emits one quoted YAML scalar (yaml_scalar), so no value can
add a key, a list item or a document, whatever surrounds the expression; host_rule and regex_literal
build Traefik rules and RE2 filters that a value cannot escape.
"""

from __future__ import annotations

import json
import re

import pytest
import yaml
from hypothesis import given, settings as hsettings, strategies as st

from cmp_plugin import model
from cmp_plugin.pipeline import render_documents, render_file, validate_text
from cmp_plugin.problems import Failure
from cmp_plugin.render import UnsafeValue, environment, host_rule, regex_literal, yaml_scalar

from ._support import HASH_A, app, db, docs_of, project_text, settings_for, write_project

HOSTILE = [
    "a\nb: c", "x: y", "'", '"', "\\", "- item", "--- \nkind: Secret", "...\n---\nkind: Secret", "{a: b}", "[a, b]",
    "<path:kv/data/other#k>", "héllo wörld ✓ 日本語", "\u2028", "\u2029", "\u0085", "\ufeff", "`backtick`", "\x00",
    "\x1b[31m", "\t", "\r\n", "", " ", "  leading", "trailing  ", "#comment", "x #y", "&anchor", "*alias",
    "!!python/object/apply:os.system ['id']", "%YAML 1.1", "@at", "? key", "| block", "> folded", "null", "~", "true",
    "NO", "0x1F", "1e3", "=", "<<: *a", "\ud800", "\"'\\\n\x00`", "{{ injected }}", "{% raw %}",
    "a" * 100_000, ("x: y\n- z\n---\n" * 2000),
]

_LOADERS = {"pyyaml-c": getattr(yaml, "CSafeLoader", yaml.SafeLoader), "pyyaml-pure": yaml.SafeLoader}


def _json(s: str):
    return json.loads(s)


# context -> (template, expected documents given the scalar where the value lands (None: nowhere),
#             the scalar, how the scalar decodes back to the value)
CONTEXTS = {
    "plain": ("k: {{ v }}\no: 1\n", lambda d: d[0]["k"], lambda x: [{"k": x, "o": 1}], lambda s: s),
    "single-quoted": ("k: '{{ v }}'\no: 1\n", lambda d: d[0]["k"], lambda x: [{"k": x, "o": 1}], _json),
    "double-quoted": ('k: "{{ v }}"\no: 1\n', lambda d: d[0]["k"], lambda x: [{"k": x, "o": 1}], lambda s: s),
    "flow-mapping": ("k: {a: {{ v }}, b: 1}\no: 1\n", lambda d: d[0]["k"]["a"], lambda x: [{"k": {"a": x, "b": 1}, "o": 1}],
                     lambda s: s),
    "flow-sequence": ("k: [{{ v }}, 1]\no: 1\n", lambda d: d[0]["k"][0], lambda x: [{"k": [x, 1], "o": 1}], lambda s: s),
    "block-sequence": ("k:\n  - {{ v }}\n  - 1\no: 1\n", lambda d: d[0]["k"][0], lambda x: [{"k": [x, 1], "o": 1}],
                       lambda s: s),
    "nested-block": ("k:\n  - a: {{ v }}\n    b: 1\no: 1\n", lambda d: d[0]["k"][0]["a"],
                     lambda x: [{"k": [{"a": x, "b": 1}], "o": 1}], lambda s: s),
    "literal-block": ("k: |\n  {{ v }}\no: 1\n", lambda d: d[0]["k"], lambda x: [{"k": x, "o": 1}], _json),
    "folded-block": ("k: >-\n  {{ v }}\no: 1\n", lambda d: d[0]["k"], lambda x: [{"k": x, "o": 1}], _json),
    "mapping-key": ("{{ v }}: 1\no: 1\n", lambda d: next(iter(d[0])), lambda x: [{x: 1, "o": 1}], lambda s: s),
    "flow-key": ("k: { {{ v }}: 1}\no: 1\n", lambda d: next(iter(d[0]["k"])), lambda x: [{"k": {x: 1}, "o": 1}],
                 lambda s: s),
    "document": ("---\na: 1\n---\n{{ v }}\n---\nb: 1\n", lambda d: d[1], lambda x: [{"a": 1}, x, {"b": 1}], lambda s: s),
    "comment": ("k: 1 # {{ v }}\no: 1\n", None, lambda x: [{"k": 1, "o": 1}], None),
    # a compound the rule forbids in templates (`pre-{{ v }}`): still no new structure
    "compound-plain": ("k: pre-{{ v }}\no: 1\n", lambda d: d[0]["k"], lambda x: [{"k": x, "o": 1}],
                       lambda s: _json(s[len("pre-"):])),
}


@pytest.mark.parametrize("loader", list(_LOADERS))
@pytest.mark.parametrize("context", list(CONTEXTS))
def test_value_is_one_scalar_or_the_yaml_fails(context, loader):
    template, locate, expected, decode = CONTEXTS[context]
    compiled = environment().from_string(template)
    if context == "double-quoted":  # `""SAFE""` is no YAML: only the hostile outcomes are checked
        with pytest.raises(yaml.YAMLError):
            list(yaml.load_all(compiled.render(v="SAFE"), Loader=_LOADERS[loader]))
    else:  # the oracle itself: a harmless value is found where expected, and decodes
        benign = list(yaml.load_all(compiled.render(v="SAFE"), Loader=_LOADERS[loader]))
        if locate is None:
            assert benign == expected(None)
        else:
            assert benign == expected(locate(benign)) and decode(locate(benign)) == "SAFE"
    wrong = []
    for value in HOSTILE:
        text = compiled.render(v=value)
        try:
            docs = list(yaml.load_all(text, Loader=_LOADERS[loader]))
        except yaml.YAMLError:
            continue  # refusing to parse is a safe outcome
        if locate is None:
            if docs != expected(None):
                wrong.append((value[:40], "structure changed", docs))
            continue
        try:
            scalar = locate(docs)
        except (LookupError, TypeError, StopIteration):
            wrong.append((value[:40], "structure changed", str(docs)[:200]))
            continue
        if docs != expected(scalar):
            wrong.append((value[:40], "structure changed", str(docs)[:200]))
        else:
            try:
                ok = decode(scalar) == value
            except (ValueError, TypeError):
                ok = False
            if not ok:
                wrong.append((value[:40], "value not intact", str(scalar)[:80]))
    assert wrong == []


def test_value_is_one_scalar_with_an_independent_yaml_parser():
    """ruamel.yaml (YAML 1.2, its own parser) sees the same single scalar as PyYAML."""
    ruamel = pytest.importorskip("ruamel.yaml", reason="ruamel.yaml not installed")
    parser = ruamel.YAML(typ="safe", pure=True)
    compiled = environment().from_string("k: {{ v }}\nl:\n  - {{ v }}\nm: {a: {{ v }}}\no: 1\n")
    for value in HOSTILE:
        if "\ud800" in value:
            continue  # ruamel refuses lone surrogates in escapes; PyYAML accepts them
        assert list(parser.load_all(compiled.render(v=value))) == [{"k": value, "l": [value], "m": {"a": value}, "o": 1}]


ASTRAL = ["🚀", "a😀b", "\U0001F600" * 3, "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "\U0010FFFF", "日本語 and 🚀"]


@pytest.mark.parametrize("loader", list(_LOADERS))
def test_characters_beyond_the_bmp_survive(loader):
    """YAML's `\\u` escape is a code point, not a UTF-16 unit: a surrogate pair (what json.dumps with
    ensure_ascii writes for U+10000 and above) is two invalid characters to a YAML parser."""
    compiled = environment().from_string("k: {{ v }}\n")
    wrong = []
    for value in ASTRAL:
        try:
            parsed = yaml.load(compiled.render(v=value), Loader=_LOADERS[loader])
        except yaml.YAMLError as exc:
            wrong.append((value, f"YAML error: {str(exc).splitlines()[-2].strip()}"))
            continue
        if parsed != {"k": value}:
            wrong.append((value, parsed["k"]))
    assert wrong == []


def test_emoji_in_a_build_arg_renders(tmp_path):
    """Build args are free text: an emoji passes validation, so the render must succeed and keep it."""
    text = project_text(apps=[app("web", build={"args": {"GREETING": "hello 🚀"}})])
    assert validate_text(text, "emoji.yaml") == []
    path = write_project(tmp_path, "emoji", text)
    try:
        docs = docs_of(render_file(str(path), settings=settings_for({}), env={}))
    except Failure as failure:
        pytest.fail(f"valid project failed to render:\n{failure}")
    wt = next(d for d in docs if d["kind"] == "WorkflowTemplate")
    assert "--build-arg=GREETING=hello 🚀" in next(t for t in wt["spec"]["templates"]
                                                   if t["name"] == "build-container")["container"]["args"]


@pytest.mark.parametrize("value", [0, 1, -5, 10**30, True, False, None, [], {}, ["a\nb: c", 1, None],
                                   {"k": "v: 'x'", "n": [1, {"d": "--- "}]}, ("t", "u")])
def test_non_string_values_keep_their_type(value):
    docs = yaml.safe_load(environment().from_string("k: {{ v }}\nl: [{{ v }}]\no: 1\n").render(v=value))
    expected = list(value) if isinstance(value, tuple) else value
    assert docs == {"k": expected, "l": [expected], "o": 1}
    assert type(docs["k"]) is type(expected)


class _Obj:
    def __str__(self):
        return "x: y"


@pytest.mark.parametrize("value", [1.5, float("nan"), b"bytes", {1, 2}, _Obj(), object()])
def test_other_types_are_refused(value):
    with pytest.raises(UnsafeValue):
        yaml_scalar(value)
    with pytest.raises(UnsafeValue):
        environment().from_string("k: {{ v }}").render(v=value)


def test_yaml_scalar_is_ascii_and_single_line():
    for value in HOSTILE:
        out = yaml_scalar(value)
        assert out.isascii() and "\n" not in out and "\r" not in out and "'" not in out


# --------------------------------------------------------------------------- the real templates

HASH = "0" * 40
_FIELDS = ("owner", "repo", "branch", "hash", "secret", "context", "dockerfile", "arg-key", "arg-value", "db",
           "version", "size", "project", "app")
# application fields (env, commands, probes, volumes, prebuilt images, processes, jobs, database wiring),
# on a project of prebuilt-image apps: no CI objects, so each render stays cheap
_APP_FIELDS = ("env-key", "env-value", "process-env-value", "job-env-value", "command", "args", "process-command",
               "job-command", "job-args", "exec", "health-http", "volume-name", "volume-path", "volume-size", "image",
               "process", "job", "cron-job", "schedule", "time-zone", "prefix", "db-user", "db-database", "memory",
               "cpu", "backup-schedule", "backup-time-zone", "backup-size")


def _model(field, value):
    """A Project built without validation, `value` appended to one field; all else benign."""
    def f(name, base):
        return base + value if field == name else base
    if field in _APP_FIELDS:
        key = f("env-key", "E")
        data = {"applications": [
            {"name": "web", "image": f("image", "ghost:5"), "port": 80, "secrets": ["K"],
             "env": {key: f("env-value", "v")}, "uses": [{"name": "pg", "prefix": f("prefix", "PG")}],
             "command": ["run", f("command", "c")], "args": [f("args", "a")],
             "health": {"http": f("health-http", "/healthz")},
             "resources": {"cpu": f("cpu", "100m"), "memory": f("memory", "64Mi")},
             "volumes": [{"name": f("volume-name", "data"), "path": f("volume-path", "/data"),
                          "size": f("volume-size", "1Gi")}],
             "processes": [{"name": f("process", "worker"), "command": [f("process-command", "w")], "port": 81,
                            "env": {key: f("process-env-value", "p")}, "health": {"exec": ["check", f("exec", "x")]},
                            "autoscale": {"max": 3}}],
             "jobs": [{"name": f("job", "migrate"), "command": [f("job-command", "m")], "args": [f("job-args", "a")],
                       "before": "deploy", "env": {key: f("job-env-value", "j")}},
                      {"name": f("cron-job", "report"), "command": ["r"], "schedule": f("schedule", "@daily"),
                       "timeZone": f("time-zone", "Europe/Berlin")}]}],
            "databases": [{"name": "pg", "type": "postgres", "version": "16", "port": 5432, "size": "1Gi",
                           "user": f("db-user", "app"), "database": f("db-database", "app"),
                           "backup": {"schedule": f("backup-schedule", "@daily"), "size": f("backup-size", "2Gi"),
                                      "timeZone": f("backup-time-zone", "UTC")}}]}
        settings = settings_for({})
        return render_documents(model.build(data, "p", settings), settings)
    data = {"applications": [{"name": f("app", "web"), "port": 80, "domains": ["a.example"], "secrets": [f("secret", "K")],
                              "git": {"owner": f("owner", "o"), "repo": f("repo", "r"), "branch": f("branch", "b"),
                                      "hash": f("hash", HASH)},
                              "build": {"context": f("context", "c"), "dockerfile": f("dockerfile", "d"),
                                        "args": {f("arg-key", "A"): f("arg-value", "x")}}}],
            "databases": [{"name": f("db", "db"), "type": "redis", "version": f("version", "7"), "port": 6379,
                           "size": f("size", "1Gi"), "backup": {"schedule": "@daily"}}]}
    settings = settings_for({})
    return render_documents(model.build(data, f("project", "p"), settings), settings)


def _shape(x):
    if isinstance(x, dict):
        return ("map", [_shape(v) for v in x.values()])
    if isinstance(x, list):
        return ("seq", [_shape(v) for v in x])
    return type(x).__name__


def _strings(x):
    if isinstance(x, dict):
        for k, v in x.items():
            yield k
            yield from _strings(v)
    elif isinstance(x, list):
        for v in x:
            yield from _strings(v)
    elif isinstance(x, str):
        yield x


@pytest.mark.parametrize("field", _FIELDS + _APP_FIELDS)
def test_real_templates_keep_their_structure_for_any_model_value(field):
    """Even values validation would refuse cannot change what the templates produce."""
    benign = _shape(_model(field, ""))  # "" appended: the benign project of this field's model
    for value in HOSTILE[:-2] + ["\n" + "x: y\n" * 50]:
        try:
            docs = _model(field, value)
        except Failure as failure:  # e.g. host_rule refusing a webhook path made of the name: no output, safe
            assert all(p.rule == "render" for p in failure.problems)
            continue
        assert _shape(docs) == benign, f"{field}={value!r} changed the structure"
        if value:
            assert any(value in s for s in _strings(docs)), f"{field}={value!r} was not emitted intact"


_WRITABLE = [v for v in HOSTILE[:-2] if "\ud800" not in v]  # a lone surrogate cannot be written as UTF-8


@pytest.mark.parametrize("value", _WRITABLE, ids=[repr(v)[:25] for v in _WRITABLE])
def test_build_arg_values_reach_kaniko_as_one_argument(value, tmp_path):
    """Build args are the one free-text project field: through the whole pipeline, one argv item each."""
    if len(value) > 4096:
        value = value[:4096]
    apps = [app("web", hash=HASH_A, build={"args": {"HOSTILE": value, "AFTER": "z"}})]
    path = write_project(tmp_path, "inj", project_text(apps=apps))
    (tmp_path / "benign").mkdir()
    benign = write_project(tmp_path / "benign", "inj",
                           project_text(apps=[app("web", hash=HASH_A, build={"args": {"HOSTILE": "v", "AFTER": "z"}})]))
    if validate_text(path.read_text("utf-8"), "inj.yaml"):
        return  # refused by validation: safe
    docs = docs_of(render_file(str(path), settings=settings_for({}), env={}))
    base = docs_of(render_file(str(benign), settings=settings_for({}), env={}))
    assert _shape(docs) == _shape(base)
    wt = next(d for d in docs if d["kind"] == "WorkflowTemplate")
    args = next(t for t in wt["spec"]["templates"] if t["name"] == "build-container")["container"]["args"]
    assert args.count(f"--build-arg=HOSTILE={value}") == 1
    assert "--build-arg=AFTER=z" in args


# Application fields through the whole pipeline: each value is refused by validation, or comes out
# exactly (one scalar, the value itself) where it belongs, and the objects keep their structure.

def _app_project(field: str, value: str) -> dict:
    """A valid project with `value` in one application field (free-text fields take it as is; fields
    with a pattern get it appended to a valid value, as the model test does)."""
    def f(name, base=None):
        return (value if base is None else base + value) if field == name else (base if base is not None else "v")
    web = {"name": "web", "image": f("image", "ghost:5"), "port": 80,
           "env": {"HOSTILE": f("env-value"), "AFTER": "z"},
           "command": ["run", f("command"), "end"], "args": [f("args"), "end"],
           "health": {"http": f("health-http", "/healthz")},
           "uses": [{"name": "pg", "prefix": f("prefix", "PG")}],
           "volumes": [{"name": "data", "path": f("volume-path", "/data"), "size": "1Gi"}],
           "processes": [{"name": f("process", "worker"), "command": [f("process-command"), "end"],
                          "env": {"HOSTILE": f("process-env-value")}, "health": {"exec": ["check", f("exec")]}}],
           "jobs": [{"name": f("job", "migrate"), "command": [f("job-command")], "args": [f("job-args")], "before": "deploy"},
                    {"name": "report", "command": ["r"], "schedule": f("schedule", "0 3 * * *"),
                     "timeZone": f("time-zone", "Europe/Berlin")}]}
    return {"applications": [web], "databases": [{"name": "pg", "type": "postgres", "version": "16", "port": 5432,
                                                   "size": "1Gi", "user": f("db-user", "app"),
                                                   "database": f("db-database", "app")}]}


def _one(docs, kind, name):
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, (kind, name)
    return found[0]


def _ctr(docs, kind, name):
    doc = _one(docs, kind, name)
    spec = doc["spec"]["jobTemplate"]["spec"] if kind == "CronJob" else doc["spec"]
    return spec["template"]["spec"]["containers"][0]


def _env(c, name):
    return [e["value"] for e in c.get("env") or [] if e["name"] == name]


# field -> (pattern field: also tried appended to a valid value, where the value must come out)
_PIPELINE = {
    "env-value": (False, lambda d, v: [_env(_ctr(d, "Deployment", "web-app"), "HOSTILE") == [v],
                                       _env(_ctr(d, "Job", "web-migrate"), "HOSTILE") == [v],
                                       _env(_ctr(d, "CronJob", "web-report"), "HOSTILE") == [v]]),
    "process-env-value": (False, lambda d, v: [_env(_ctr(d, "Deployment", "web-worker"), "HOSTILE") == [v]]),
    "command": (False, lambda d, v: [_ctr(d, "Deployment", "web-app")["command"] == ["run", v, "end"]]),
    "args": (False, lambda d, v: [_ctr(d, "Deployment", "web-app")["args"] == [v, "end"]]),
    "process-command": (False, lambda d, v: [_ctr(d, "Deployment", "web-worker")["command"] == [v, "end"]]),
    "job-command": (False, lambda d, v: [_ctr(d, "Job", "web-migrate")["command"] == [v]]),
    "job-args": (False, lambda d, v: [_ctr(d, "Job", "web-migrate")["args"] == [v]]),
    "exec": (False, lambda d, v: [_ctr(d, "Deployment", "web-worker")[p]["exec"]["command"] == ["check", v]
                                  for p in ("startupProbe", "readinessProbe", "livenessProbe")]),
    "health-http": (True, lambda d, v: [_ctr(d, "Deployment", "web-app")[p]["httpGet"]["path"] == v
                                        for p in ("startupProbe", "readinessProbe", "livenessProbe")]),
    "volume-path": (True, lambda d, v: [_ctr(d, "Deployment", "web-app")["volumeMounts"][0]["mountPath"] == v]),
    "image": (True, lambda d, v: [_ctr(d, "Deployment", "web-app")["image"] == v, _ctr(d, "Job", "web-migrate")["image"] == v]),
    "schedule": (True, lambda d, v: [_one(d, "CronJob", "web-report")["spec"]["schedule"] == v]),
    "time-zone": (True, lambda d, v: [_one(d, "CronJob", "web-report")["spec"]["timeZone"] == v]),
    "process": (True, lambda d, v: [_ctr(d, "Deployment", "web-" + v)["name"] == v]),
    "job": (True, lambda d, v: [_ctr(d, "Job", "web-" + v)["name"] == v]),
    "prefix": (True, lambda d, v: [_env(_ctr(d, "Deployment", "web-app"), v + "_HOST") == ["pg"]]),
    "db-user": (True, lambda d, v: [_env(_ctr(d, "Deployment", "web-app"), "PG_USER") == [v],
                                    _env(_ctr(d, "StatefulSet", "inj-pg-db"), "APP_DB_USER") == [v]]),
    "db-database": (True, lambda d, v: [_env(_ctr(d, "Deployment", "web-app"), "PG_NAME") == [v],
                                        _env(_ctr(d, "StatefulSet", "inj-pg-db"), "APP_DB_NAME") == [v]]),
}


def _kinds_and_shapes(docs):
    return sorted((d["kind"], repr(_shape(d))) for d in docs)


@pytest.mark.parametrize("field", list(_PIPELINE))
def test_application_values_are_refused_or_one_intact_scalar(field, tmp_path):
    pattern_field, where = _PIPELINE[field]
    settings = settings_for({})
    benign = docs_of(render_file(str(write_project(tmp_path, "inj", project_text_of(_app_project(field, "")))),
                                 settings=settings, env={})) if not pattern_field else None
    rendered_any = False
    for value in _WRITABLE:
        data = _app_project(field, value)
        text = project_text_of(data)
        if validate_text(text, "inj.yaml", settings=settings):
            continue  # refused by validation: safe
        docs = docs_of(render_file(str(write_project(tmp_path, "inj", text)), settings=settings, env={}))
        rendered_any = True
        if benign is not None:
            assert _kinds_and_shapes(docs) == _kinds_and_shapes(benign), f"{field}={value!r} changed the structure"
        placed = _find_value(data, field)
        assert all(where(docs, placed)), f"{field}={value!r} did not come out intact"
    if pattern_field:  # the valid base value itself renders where expected
        data = _app_project(field, "")
        docs = docs_of(render_file(str(write_project(tmp_path, "inj", project_text_of(data))), settings=settings, env={}))
        assert all(where(docs, _find_value(data, field)))
    else:
        assert rendered_any, f"no value of {field} passed validation: the test checked nothing"


_COMMAND_FIELDS = ("command", "args", "process-command", "job-command", "job-args", "exec")


@pytest.mark.parametrize("field", _COMMAND_FIELDS)
def test_vault_placeholder_in_a_command_is_refused_by_validation(field):
    for placeholder in ("<path:kv/data/inj/apps/web#K>", "<path:kv/data/other#k>"):
        text = project_text_of(_app_project(field, placeholder))
        assert validate_text(text, "inj.yaml"), f"{field}={placeholder!r} passed validation"


def _find_value(data: dict, field: str) -> str:
    web, pg = data["applications"][0], data["databases"][0]
    return {"env-value": lambda: web["env"]["HOSTILE"], "process-env-value": lambda: web["processes"][0]["env"]["HOSTILE"],
            "command": lambda: web["command"][1], "args": lambda: web["args"][0],
            "process-command": lambda: web["processes"][0]["command"][0], "job-command": lambda: web["jobs"][0]["command"][0],
            "job-args": lambda: web["jobs"][0]["args"][0], "exec": lambda: web["processes"][0]["health"]["exec"][1],
            "health-http": lambda: web["health"]["http"], "volume-path": lambda: web["volumes"][0]["path"],
            "image": lambda: web["image"], "schedule": lambda: web["jobs"][1]["schedule"],
            "time-zone": lambda: web["jobs"][1]["timeZone"], "process": lambda: web["processes"][0]["name"],
            "job": lambda: web["jobs"][0]["name"], "prefix": lambda: web["uses"][0]["prefix"],
            "db-user": lambda: pg["user"], "db-database": lambda: pg["database"]}[field]()


def project_text_of(data: dict) -> str:
    return yaml.safe_dump(data, sort_keys=False, width=1_000_000, allow_unicode=False)


ARGO_EXPRESSIONS = ["{{workflow.parameters.git_sha}}", "{{inputs.parameters.sha}}", "{{=sprig.trim('x')}}",
                    "prefix {{ workflow.name }} suffix"]


def test_project_values_never_reach_argo_template_substitution(tmp_path):
    """Argo Workflows substitutes `{{...}}` in a WorkflowTemplate's strings (and evaluates `{{=expr}}`).
    A project value must be refused, or reach the template without `{{`: only the renderer's own
    expressions may be there."""
    leaked = []
    for value in ARGO_EXPRESSIONS:
        text = project_text(apps=[app("web", build={"args": {"X": value}})])
        if validate_text(text, "argo.yaml"):
            continue
        docs = docs_of(render_file(str(write_project(tmp_path, "argo", text)), settings=settings_for({}), env={}))
        wt = next(d for d in docs if d["kind"] == "WorkflowTemplate")
        leaked += [s for s in _strings(wt) if s.startswith("--build-arg=X=") and "{{" in s]
    assert leaked == [], "build args reach Argo's template engine"


# --------------------------------------------------------------------------- host_rule, regex_literal

@pytest.mark.parametrize("domain", ["a`b.example", "a.example`) || Host(`evil.example", "a b.example", "A.example",
                                    "a.Example", "", "-a.example", "a-.example", "a..example", ".a.example",
                                    "a.example.", "a" * 64 + ".example", "é.example", "a_b.example", "a.example/x",
                                    "a.example\n", "\na.example", "a.example\x00", None, 5, ["a.example"]])
def test_host_rule_refuses_non_hostnames(domain):
    with pytest.raises(UnsafeValue):
        host_rule(domain)


@pytest.mark.parametrize("path", ["/a`b", "/a b", "a", "", "/a)", "/a\n", "/a\x00", "/a`) || Host(`x", "/a?b", "/a#b"])
def test_host_rule_refuses_bad_paths(path):
    with pytest.raises(UnsafeValue):
        host_rule("a.example", path)


def test_host_rule_accepts_hostnames():
    assert host_rule("a.example") == "Host(`a.example`)"
    assert host_rule("x" * 63 + ".b-c.d9") == f"Host(`{'x' * 63}.b-c.d9`)"
    assert host_rule("localhost", "/p-app_1.x") == "Host(`localhost`) && Path(`/p-app_1.x`)"


def _re2_standin(pattern: str) -> re.Pattern:
    """Python `re` as a stand-in for Go RE2: RE2's `$` (no m flag) matches only at the very end,
    Python's also before a final newline, so the final `$` becomes `\\Z`."""
    assert pattern.startswith("^") and pattern.endswith("$")
    return re.compile(pattern[:-1] + r"\Z")


@hsettings(max_examples=200, deadline=None)
@given(text=st.text(), other=st.text())
def test_regex_literal_matches_exactly_the_literal(text, other):
    pattern = _re2_standin(regex_literal(text))
    assert pattern.search(text)
    assert bool(pattern.search(other)) == (other == text)
    for near in (text + "x", "x" + text, text[:-1], text + "\n", text.upper() if text.upper() != text else text + "a"):
        assert bool(pattern.search(near)) == (near == text)


@pytest.mark.parametrize("text", ["refs/heads/main", "refs/heads/release/2026.11", "a.b*c+d?e(f)g[h]i{j}k|l^m$n\\o-p",
                                  ".*", "^$", "(?i)x", "\\", "a{2}", "[^a]", "x|y"])
def test_regex_literal_examples(text):
    pattern = _re2_standin(regex_literal(text))
    assert pattern.search(text)
    assert not pattern.search(text + "-old")
    assert not pattern.search("x" + text)
    assert regex_literal(text).startswith("^") and regex_literal(text).endswith("$")


def test_sensor_branch_filter_is_exact(tmp_path):
    text = project_text(apps=[app("web", branch="release/1.2")])
    docs = docs_of(render_file(str(write_project(tmp_path, "br", text)), settings=settings_for({}), env={}))
    sensor = next(d for d in docs if d["kind"] == "Sensor")
    filters = {f["path"]: f["value"] for f in sensor["spec"]["dependencies"][0]["filters"]["data"]}
    ref = _re2_standin(filters["body.ref"][0])
    assert ref.search("refs/heads/release/1.2")
    for other in ("refs/heads/release/1x2", "refs/heads/release/1.2-old", "refs/heads/main", "refs/tags/release/1.2"):
        assert not ref.search(other)
    after = _re2_standin(filters["body.after"][0])
    assert after.search(HASH_A) and not after.search(HASH_A + "; rm -rf /") and not after.search(HASH_A.upper())


# --------------------------------------------------------------------------- validation keeps rules closed

BAD_DOMAINS = ["a`b.example", "a.example`) || Host(`evil.example", "a.example) || Host(evil.example",
               "a.example` || Host(`evil.example", "A.example", "a b.example", "a.example\n", "a.example\nb",
               "`", "a.example,evil.example", "a.example&&Path(`/x`)", "*.example", "a.example:443"]


@pytest.mark.parametrize("domain", BAD_DOMAINS)
def test_domain_that_could_escape_a_rule_fails_validation(domain):
    text = project_text(apps=[app("web", domains=[domain])])
    problems = validate_text(text, "dom.yaml")
    assert problems, f"domain {domain!r} passed validation"
    assert any(p.path == "applications[0].domains[0]" for p in problems), [p.format() for p in problems]


def test_valid_domain_passes_validation():
    assert validate_text(project_text(apps=[app("web", domains=["a.example", "x-1.b.example"])]), "dom.yaml") == []


def test_databases_have_no_free_text(tmp_path):
    """db fields that land in argv (version, size) are validated to safe alphabets."""
    for field, value in (("version", "8.0 --skip-grant-tables"), ("version", "8\n"), ("size", "1Gi; x"),
                         ("size", "1Gi\n")):
        spec = db("d", "mysql")
        spec[field] = value
        assert validate_text(project_text(dbs=[spec]), "dbs.yaml"), f"{field}={value!r} passed validation"
