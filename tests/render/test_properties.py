"""Properties over generated project files.

Valid files (every field, every database type, lengths up to the limits) always render: validation
finds nothing, the CLI exits 0, the output parses, every object validates against the upstream
schemas and kubernetes-validate, the independent integrity checker finds nothing, and a second
render is byte-identical. Invalid files (a valid file, mutated) always fail cleanly: a Failure whose
every problem is one `FILE:LINE:COL: error: ...` (or `error: ...`) line, nothing on stdout, no traceback.
And the fast validator agrees with jsonschema.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import string
import tempfile
from datetime import datetime
from pathlib import Path
from unittest import mock

import pytest
import yaml
from hypothesis import HealthCheck, Phase, assume, given, settings as hsettings, strategies as st

from cliutil import run_cli
from cmp_plugin import cli
from cmp_plugin.pipeline import render_file, validate_text
from cmp_plugin.problems import Failure
from cmp_plugin.validate import schema as fast_schema

from ._support import (SETTINGS_VARIANTS, all_object_errors, clean_env, docs_of, integrity_problems,
                       name_problems, require_shared, security_problems, settings_for)

LOWER = string.ascii_lowercase
ALNUM_LOWER = LOWER + string.digits
ALNUM = string.ascii_letters + string.digits
RESERVED = re.compile(r"^(default|argocd|kube-.*)$")
PROBLEM_LINE = re.compile(r"^[^:\n]+:\d+:\d+: error: [^\n]*$|^error: [^\n]*$")
DB_PORTS = {"mysql": 3306, "postgres": 5432, "redis": 6379, "mongodb": 27017}

# No explain phase: it costs minutes on a failure and adds nothing to these reports.
_PHASES = (Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink)


def examples(n: int):
    """Modest example counts, no deadline (renders vary in time), no slow-data health checks."""
    return hsettings(max_examples=n, deadline=None, phases=_PHASES, report_multiple_bugs=False,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                            HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much])


# --------------------------------------------------------------------------- strategies: valid

@st.composite
def dns_label(draw, max_len, first=LOWER, min_len=1):
    """RFC 1123 label (lowercase alphanumerics and inner '-') of min_len..max_len characters."""
    n = draw(st.integers(min_len, max_len))
    head = draw(st.sampled_from(first))
    if n == 1:
        return head
    middle = draw(st.text(alphabet=ALNUM_LOWER + "-", min_size=n - 2, max_size=n - 2))
    return head + middle + draw(st.sampled_from(ALNUM_LOWER))


@st.composite
def owners(draw):
    parts = draw(st.lists(st.text(alphabet=ALNUM, min_size=1, max_size=8), min_size=1, max_size=4))
    return "-".join(parts)[:39].rstrip("-")


repos = st.text(alphabet=ALNUM + "._-", min_size=1, max_size=30).filter(lambda s: s not in (".", ".."))


def _git_branch_ok(b: str) -> bool:
    """git check-ref-format, for the alphabet used here."""
    return not (b.startswith(("/", ".", "-")) or b.endswith(("/", ".")) or ".." in b or "//" in b or "/." in b
                or any(seg.endswith(".lock") for seg in b.split("/")))


branches = st.lists(st.text(alphabet=ALNUM + "._-", min_size=1, max_size=12), min_size=1, max_size=3).map("/".join) \
    .filter(_git_branch_ok)
hashes = st.one_of(st.none(), st.just(""), st.text(alphabet="0123456789abcdef", min_size=40, max_size=40))
timestamps = st.datetimes(min_value=datetime(1970, 1, 1)).map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S") + "Z")
env_names = st.builds(lambda a, b: a + b, st.sampled_from(string.ascii_letters + "_"),
                      st.text(alphabet=ALNUM + "_", max_size=20))
rel_paths = st.lists(st.text(alphabet=ALNUM + "._-", min_size=1, max_size=10).filter(lambda s: s not in (".", "..")),
                     min_size=1, max_size=3).map("/".join)
# Build-arg values are free text. Kept to the BMP: characters above U+FFFF are a known renderer bug
# (test_injection.py::test_emoji_in_a_build_arg_renders); surrogates cannot be written as UTF-8.
# Any printable text, beyond the BMP too; control characters, line separators and Argo's "{{"
# are refused by validation (tests/fixtures/invalid and test_injection cover those).
arg_values = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")),
                     max_size=40).filter(lambda v: "{{" not in v)
hostnames = st.lists(dns_label(20, first=ALNUM_LOWER), min_size=1, max_size=3).flatmap(
    lambda labels: dns_label(10).map(lambda tld: ".".join(labels + [tld])))
sizes = st.from_regex(r"\A[0-9]{1,4}(\.[0-9]{1,2})?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?\Z")
versions = st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9._-]{0,20}\Z")


@st.composite
def applications(draw, project, name):
    git = {"owner": draw(owners()), "repo": draw(repos), "branch": draw(branches)}
    if draw(st.booleans()):
        git["type"] = "github"
    hash_ = draw(hashes)
    if hash_ is not None or draw(st.booleans()):
        git["hash"] = hash_
    if draw(st.booleans()):
        git["pushedAt"] = draw(timestamps)
    out = {"name": name, "git": git, "port": draw(st.integers(1, 65535))}
    if draw(st.booleans()):
        out["domains"] = draw(st.lists(hostnames, max_size=3, unique=True))
    if draw(st.booleans()):
        out["secrets"] = draw(st.lists(env_names, max_size=4, unique=True))
    if draw(st.booleans()):
        build = {}
        if draw(st.booleans()):
            build["context"] = draw(rel_paths)
        if draw(st.booleans()):
            build["dockerfile"] = draw(rel_paths)
        if draw(st.booleans()):
            build["args"] = draw(st.dictionaries(env_names, arg_values, max_size=3))
        out["build"] = build
    ids = st.integers(1, 2**31 - 1)
    for field in ("runAsUser", "runAsGroup", "fsGroup"):
        if draw(st.booleans()):
            out[field] = draw(ids)
    if draw(st.booleans()):
        out["readOnlyRootFilesystem"] = draw(st.booleans())
    if draw(st.booleans()):
        out["runAsRoot"] = False  # true needs the platform's allow_root (test_pod_security.py)
    return out


@st.composite
def databases(draw, name, project=""):
    kind = draw(st.sampled_from(sorted(DB_PORTS)))
    port = draw(st.one_of(st.just(DB_PORTS[kind]), st.integers(1, 65535)))
    out = {"name": name, "type": kind, "version": draw(versions), "port": port, "size": draw(sizes)}
    # a backup where its CronJob's name fits (<project>-<db>-backup within 52)
    if len(f"{project}-{name}-backup") <= 52 and draw(st.booleans()):
        backup = {"schedule": draw(st.sampled_from(["0 3 * * *", "@daily", "*/30 * * * MON-FRI", "@every 6h"]))}
        for key, values in (("keep", st.integers(1, 365)), ("deadline", st.integers(1, 86400)), ("size", sizes),
                            ("timeZone", st.sampled_from(["UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires"]))):
            if draw(st.booleans()):
                backup[key] = draw(values)
        out["backup"] = backup
    return out


@st.composite
def valid_projects(draw):
    """(project name, data). Lengths respect the derived-name limits: <project>-<app> is at most 42
    characters (<project>-<app>-build-workflow- <= 58), the project at most 33 (eventbus-<project>-ci-bus-js
    <= 52, a StatefulSet), <project>-<db> at most 48 (<project>-<db>-db <= 52)."""
    project = draw(dns_label(20).filter(lambda p: not RESERVED.match(p)))
    n_apps, n_dbs = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    assume(n_apps + n_dbs > 0)
    taken = set()
    app_names = []
    for _ in range(n_apps):
        assume(40 - len(project) >= 1)
        name = draw(dns_label(40 - len(project)).filter(lambda n: n not in taken))
        taken.add(name)
        app_names.append(name)
    db_names = []
    for _ in range(n_dbs):
        name = draw(dns_label(min(47 - len(project), 63)).filter(lambda n: n not in taken))
        taken.add(name)
        db_names.append(name)
    apps = [draw(applications(project, n)) for n in app_names]
    # Domains are unique per project (a rule); derived-name collisions (route slugs, Argo Events'
    # implicit Service, the GitHub Secret) are known validation gaps with their own failing tests in
    # test_integrity.py, so they are kept out of this property.
    seen, routes = set(), set()
    for a in apps:
        for d in a.get("domains", []):
            assume(d not in seen)
            seen.add(d)
            routes.add(f"{project}-{a['name']}-{d.replace('.', '-')}-route")
        routes.add(f"{project}-{a['name']}-webhook-route")
    assume(len(routes) == sum(len(a.get("domains", [])) + 1 for a in apps))
    assume("github-access" not in taken and not any(n.endswith(("-eventsource-svc", "-js-svc")) for n in taken))
    data = {}
    if apps:
        data["applications"] = apps
    if db_names:
        data["databases"] = [draw(databases(n, project)) for n in db_names]
    return project, data


def dump(data) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1_000_000)


def _write(tmp: str, name: str, content: bytes | str) -> Path:
    path = Path(tmp) / f"{name}.yaml"
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def _run_cli_in_process(path: Path, env: dict) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.dict(os.environ, clean_env(**env), clear=True), \
            contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main([str(path)])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def shared():
    return require_shared()


@examples(40)
@given(case=valid_projects(), variant=st.sampled_from(sorted(SETTINGS_VARIANTS)))
def test_valid_projects_always_render(shared, case, variant):
    project, data = case
    env = SETTINGS_VARIANTS[variant]
    text = dump(data)
    settings = settings_for(env)
    assert [p.format() for p in validate_text(text, f"{project}.yaml", settings=settings)] == []
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(tmp, project, text)
        code, out, err = _run_cli_in_process(path, env)
        assert (code, err) == (0, ""), err
        again = render_file(str(path), settings=settings, env={})
        assert again == out, "two renders of one file differ"
    docs = docs_of(out)
    assert all_object_errors(docs) == []
    assert integrity_problems(docs) == []
    assert security_problems(docs, project, data) == []
    assert [p for d in docs for p in name_problems(d)] == []
    assert {d["metadata"]["namespace"] for d in docs} == {project}
    # every app is built, and deployed once it has a hash; every database runs
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for a in data.get("applications", []):
        assert ("WorkflowTemplate", f"{project}-{a['name']}-build-workflow-template") in kinds
        assert (("Deployment", f"{a['name']}-app") in kinds) == bool(a["git"].get("hash"))
        for key, value in (a.get("build") or {}).get("args", {}).items():
            wt = next(d for d in docs if d["metadata"]["name"] == f"{project}-{a['name']}-build-workflow-template")
            args = next(t for t in wt["spec"]["templates"] if t["name"] == "build-container")["container"]["args"]
            # written with Kubernetes' `$$` escape, so it reaches Kaniko as the project wrote it
            assert f"--build-arg={key}={value}".replace("$", "$$") in args
    for d in data.get("databases", []):
        assert ("StatefulSet", f"{project}-{d['name']}-db") in kinds


# --------------------------------------------------------------------------- strategies: invalid

def _entities(data):
    return [("applications", i) for i in range(len(data.get("applications", [])))] + \
           [("databases", i) for i in range(len(data.get("databases", [])))]


@st.composite
def _port(draw, data):
    kind, i = draw(st.sampled_from(_entities(data)))
    data[kind][i]["port"] = draw(st.sampled_from([0, -1, 65536, 70000, 10**12]))
    return data


BAD_DOMAINS = ["UPPER.example", "a..b", "-a.example", "a-.example", "a b.example", "a`b.example", "",
               "a.example`) || Host(`evil.example", "a_b.example", "a." + "b" * 64, "é.example", "a.example.", ".a",
               "x" * 250 + ".example", "a.example:80", "*.example", "a/b.example"]


@st.composite
def _domain(draw, data):
    assume(data.get("applications"))
    i = draw(st.integers(0, len(data["applications"]) - 1))
    data["applications"][i].setdefault("domains", []).append(draw(st.sampled_from(BAD_DOMAINS)))
    return data


@st.composite
def _unknown_field(draw, data):
    key = draw(st.sampled_from(["nmae", "Name", "replicas", "image", "hosts", "domain", "typo", "x-extra", "git_hash"]))
    where = draw(st.sampled_from(["top", "entity", "git", "build"]))
    if where == "top" or not _entities(data):
        data[key] = draw(st.sampled_from(["x", 1, None, [], {}]))
        return data
    kind, i = draw(st.sampled_from(_entities(data)))
    target = data[kind][i]
    if where == "git" and kind == "applications":
        target = target["git"]
    elif where == "build" and kind == "applications":
        target = target.setdefault("build", {})
    target[key] = "x"
    return data


@st.composite
def _hash(draw, data):
    assume(data.get("applications"))
    i = draw(st.integers(0, len(data["applications"]) - 1))
    data["applications"][i]["git"]["hash"] = draw(st.sampled_from(
        ["abc", "g" * 40, "0" * 39, "0" * 41, "A" * 40, " " + "0" * 39, "0" * 40 + " x", 12345, True, ["0" * 40], {}]))
    return data


@st.composite
def _duplicate(draw, data):
    entities = _entities(data)
    if len(entities) < 2:
        kind, i = entities[0]
        data[kind].append(yaml.safe_load(yaml.safe_dump(data[kind][i])))
        return data
    (k1, i1), (k2, i2) = draw(st.permutations(entities))[:2]
    data[k2][i2]["name"] = data[k1][i1]["name"]
    return data


@st.composite
def _wrong_type(draw, data):
    kind, i = draw(st.sampled_from(_entities(data)))
    item = data[kind][i]
    choices = [("port", "80"), ("port", 80.0), ("port", True), ("port", None), ("name", 5), ("name", ["x"]),
               ("name", None)]
    if kind == "applications":
        choices += [("git", "github.com/o/r"), ("domains", "a.example"), ("secrets", "KEY"), ("secrets", [1]),
                    ("build", "Dockerfile"), ("build", {"args": ["A=1"]}), ("build", {"args": {"A": 1}}),
                    ("runAsUser", 0), ("runAsUser", "1000"), ("runAsGroup", -1), ("fsGroup", 2**31),
                    ("runAsRoot", "true"), ("readOnlyRootFilesystem", 1)]
    else:
        choices += [("size", 5), ("version", 8.0), ("version", 16), ("type", "sqlite"), ("type", None)]
    key, value = draw(st.sampled_from(choices))
    item[key] = value
    if draw(st.booleans()):
        data[kind] = {"items": data[kind]}  # a mapping where a list belongs
    return data


GARBAGE = ["]\n", "{\n", "[\n", "key: [unclosed\n", "\t- tab\n", "---\n- a\n", "@reserved\n", "`tick\n",
           "%YAML 9.9\n---\n", "'unterminated\n", '"unterminated\n', "a: b: c\n", "- item\n", "? [a\n",
           "&a [*a, *b]\n", "*undefined\n", "applications: [\n", "<<: *nope\n"]
TAG_GARBAGE = ["!!int abc", "!!float abc", "!!bool maybe", "!!int 0xZZ", "!!float 1.2.3"]
NOT_UTF8 = [b"\xff", b"\xfe\xff", b"\xc3\x28", b"\x80abc", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf8\x88\x80\x80\x80"]
CONTROL = [b"\x00", b"\x1b[31m", b"\x7f", b"\x01", b"\x08", b"\x0c", b"\xc2\x80"]


def _text_mutation(kind):
    @st.composite
    def mutate(draw, data):
        text = dump(data)
        if kind == "garbage":
            g = draw(st.sampled_from(GARBAGE))
            return (g + text) if draw(st.booleans()) else (text + g)
        if kind == "tag":
            target = draw(st.sampled_from(["port", "name", "top"]))
            value = draw(st.sampled_from(TAG_GARBAGE))
            if target == "top":
                return text + f"extra: {value}\n"
            return re.sub(rf"(?m)^(\s*-?\s*{target}: ).*$", lambda m: m.group(1) + value, text, count=1)
        if kind in ("not-utf8", "control"):
            raw = text.encode("utf-8")
            at = draw(st.integers(0, len(raw)))
            return raw[:at] + draw(st.sampled_from(NOT_UTF8 if kind == "not-utf8" else CONTROL)) + raw[at:]
        if kind == "random-binary":  # not UTF-8 (valid UTF-8 with control characters: "control" above)
            blob = draw(st.binary(min_size=1, max_size=64))
            at = draw(st.integers(0, len(text)))
            out = text[:at].encode("utf-8") + blob + text[at:].encode("utf-8")
            try:
                out.decode("utf-8")
            except UnicodeDecodeError:
                return out
            assume(False)
        if kind == "empty":
            return draw(st.sampled_from(["", "~\n", "null\n", "[]\n", "{}\n", "applications: []\n",
                                         "databases: []\napplications: []\n", "# only a comment\n", "\n\n", "42\n",
                                         "just a string\n", "- a\n- b\n"]))
        raise AssertionError(kind)
    return mutate


@st.composite
def _trailing_newline(draw, data):
    """A pattern-checked string with a trailing newline (Python's `$` matches before a final \\n)."""
    kind, i = draw(st.sampled_from(_entities(data)))
    item = data[kind][i]
    fields = [("name",)]
    if kind == "applications":
        fields += [("git", "owner"), ("git", "repo"), ("git", "branch"), ("git", "hash")]
        if item.get("domains"):
            fields.append(("domains", 0))
        if item.get("secrets"):
            fields.append(("secrets", 0))
    else:
        fields += [("version",), ("size",)]
    path = draw(st.sampled_from(fields))
    target = item
    for part in path[:-1]:
        target = target[part]
    if path == ("git", "hash") and not target.get("hash"):
        target["hash"] = "0" * 40
    target[path[-1]] = str(target[path[-1]]) + "\n"
    return data


MUTATIONS = {
    "port-out-of-range": _port, "bad-domain": _domain, "unknown-field": _unknown_field, "bad-hash": _hash,
    "duplicate-name": _duplicate, "wrong-type": _wrong_type, "yaml-garbage": _text_mutation("garbage"),
    "invalid-utf8": _text_mutation("not-utf8"), "random-binary": _text_mutation("random-binary"),
    "empty-or-not-a-project": _text_mutation("empty"),
    "explicit-yaml-tag": _text_mutation("tag"), "trailing-newline": _trailing_newline,
    "control-characters": _text_mutation("control"),
}


def _invalid(mutation):
    return valid_projects().flatmap(lambda case: mutation(case[1]).map(lambda out: (case[0], out)))


def _content(mutated) -> bytes:
    return mutated.encode("utf-8") if isinstance(mutated, str) else mutated if isinstance(mutated, bytes) \
        else dump(mutated).encode("utf-8")


def _assert_clean_failure(project: str, content: bytes):
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(tmp, project, content)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            with pytest.raises(Failure) as info:
                render_file(str(path), settings=settings_for({}), env={})
        assert out.getvalue() == ""
        problems = info.value.problems
        assert problems
        for p in problems:
            line = p.format()
            assert PROBLEM_LINE.match(line), line
            assert "Traceback" not in line
            if p.line:
                assert p.file == str(path) and 1 <= p.line <= content.count(b"\n") + 1


@pytest.mark.parametrize("mutation", list(MUTATIONS))
@examples(12)
@given(data=st.data())
def test_invalid_projects_fail_cleanly(mutation, data):
    project, mutated = data.draw(_invalid(MUTATIONS[mutation]))
    _assert_clean_failure(project, _content(mutated))


@examples(6)
@given(data=st.data())
def test_cli_fails_cleanly_on_invalid_projects(data):
    """cmp-render as a subprocess (slower: a few examples): exit 1, stderr lines only, nothing on stdout."""
    mutation = data.draw(st.sampled_from(sorted(MUTATIONS)))
    project, mutated = data.draw(_invalid(MUTATIONS[mutation]))
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(tmp, project, _content(mutated))
        run = run_cli(str(path))
    assert run.stdout == ""
    assert run.returncode == 1, run.stderr
    lines = run.stderr.splitlines()
    assert lines and all(PROBLEM_LINE.match(line) for line in lines), lines
    assert "Traceback" not in run.stderr


# --------------------------------------------------------------------------- fast validator == jsonschema

JUNK = st.one_of(st.none(), st.booleans(), st.integers(-70000, 70000), st.floats(allow_nan=False),
                 st.sampled_from([1.0, 80.0, 65536.0, -0.0]), st.text(max_size=8),
                 st.lists(st.integers(0, 3), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


def _nodes(value, path=()):
    yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _nodes(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _nodes(v, path + (i,))


@st.composite
def schema_documents(draw):
    """Documents derived from the schema: a valid project, then 0-3 random edits at random nodes."""
    _, doc = draw(valid_projects())
    for _ in range(draw(st.sampled_from([0, 1, 1, 2, 3, 3]))):
        path, node = draw(st.sampled_from(list(_nodes(doc))))
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        if not path:
            if draw(st.integers(0, 9)) == 0:
                doc = draw(st.one_of(JUNK, st.just({})))
            continue
        kind = "dict" if isinstance(node, dict) else "list" if isinstance(node, list) else \
            "str" if isinstance(node, str) else "int" if isinstance(node, int) else "other"
        action = draw(st.sampled_from({"dict": ["add-key", "junk", "delete"], "list": ["dup-item", "junk", "delete"],
                                       "str": ["tweak-str", "tweak-str", "junk"], "int": ["tweak-int", "junk"],
                                       "other": ["junk", "delete"]}[kind]))
        if action == "junk":
            parent[path[-1]] = draw(JUNK)
        elif action == "delete":
            del parent[path[-1]]
        elif action == "add-key":
            node[draw(st.sampled_from(["type", "name", "extra", "Port", "args", "A_1", "1A", ""]))] = draw(JUNK)
        elif action == "dup-item" and node:
            node.append(yaml.safe_load(yaml.safe_dump(node[0])))
        elif action == "tweak-str":
            parent[path[-1]] = draw(st.sampled_from(["", node + " ", node + "\n", node.upper(), node + "é", "-" + node,
                                                      node + ".", node * 7, node[:-1], node + "/..", "../" + node]))
        elif action == "tweak-int":
            parent[path[-1]] = draw(st.sampled_from([node + 1, node - 1, 0, 65535, 65536, -node, bool(node), float(node)]))
        if not isinstance(doc, (dict, list)):
            break
    return doc


@pytest.fixture(scope="module")
def reference_validator():
    from jsonschema import Draft7Validator
    from jsonschema.validators import extend

    checker = Draft7Validator.TYPE_CHECKER.redefine(
        "integer", lambda _c, v: isinstance(v, int) and not isinstance(v, bool))
    return extend(Draft7Validator, type_checker=checker)(fast_schema.schema())


@examples(150)
@given(doc=schema_documents())
def test_fast_validator_agrees_with_jsonschema(doc, reference_validator):
    expected = not any(True for _ in reference_validator.iter_errors(doc))
    assert fast_schema.is_valid(doc) == expected


def test_fast_validator_agreement_is_not_vacuous(reference_validator):
    """The generator reaches both answers (a fixed sample, so this cannot pass by luck)."""
    ok = {"applications": [{"name": "a", "git": {"owner": "o", "repo": "r", "branch": "b"}, "port": 1}]}
    assert fast_schema.is_valid(ok) and not list(reference_validator.iter_errors(ok))
    for bad in ({"applications": [{"name": "a", "git": {"owner": "o", "repo": "r", "branch": "b"}, "port": True}]},
                {"databases": [{"name": "d", "type": "redis", "version": "7", "port": 1.0, "size": "1Gi"}]},
                {"applications": [], "extra": 1}, [], None):
        assert not fast_schema.is_valid(bad) and list(reference_validator.iter_errors(bad))
