"""Stage 2, validate, in-process: what a loaded project may not be, for the rules that depend on
the whole file, the project's name and the platform's settings. (Each rule on its own is a file in
tests/fixtures/invalid, run by test_cli.py.)"""

from __future__ import annotations

import pytest

from cliutil import EXAMPLES
from cmp_plugin.load import load_bytes
from cmp_plugin.settings import load_settings
from cmp_plugin.validate import validate

APP = "applications: [{name: web, image: nginx:1.27}]\n"
NOTHING = ("p.yaml:1:1: error: the project defines no applications and no databases; refusing to render nothing "
           "(Argo CD would prune every resource)")


def problems(text: str, project: str = "shop", env: dict | None = None) -> list[str]:
    loaded = load_bytes(text.encode(), "p.yaml")
    return [p.format() for p in validate(loaded, project, load_settings(env or {}))]


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_the_examples_are_valid(example):
    assert problems(example.read_text(), example.stem) == []


ROOTS = [
    ("sequence", "[]", ["p.yaml:1:1: error: [] is not of type 'object'"]),
    ("number", "1", ["p.yaml:1:1: error: 1 is not of type 'object'"]),
    ("string", '""', ["p.yaml:1:1: error: '' is not of type 'object'"]),
    ("null", "null", ["p.yaml:1:1: error: the file is empty; expected a mapping with 'applications' and/or 'databases'"]),
    ("empty-mapping", "{}", [NOTHING]),
    ("no-applications", "applications: []", [NOTHING]),
    ("applications-not-a-list", "applications: {}", [NOTHING, "p.yaml:1:15: error: applications: {} is not of type 'array'"]),
    ("every-missing-field", "databases: [{name: db}]",
     [f"p.yaml:1:13: error: databases[0]: '{field}' is a required property" for field in ("port", "size", "type", "version")]),
]


@pytest.mark.parametrize("text,expected", [c[1:] for c in ROOTS], ids=[c[0] for c in ROOTS])
def test_what_the_file_holds(text, expected):
    assert problems(text) == expected


NAME_RULE = ("p.yaml:1:1: error: project: project name {!r} (the file's stem, or --project) must be a lowercase "
             "RFC 1123 label of at most 63 characters that starts with a letter")
RESERVED = "p.yaml:1:1: error: project: project {!r} would deploy into the reserved namespace pattern {!r}"

NAMES = [
    ("shop", {}, []), ("a" * 63, {}, []), ("openshift-x", {}, []),
    ("Shop", {}, [NAME_RULE.format("Shop")]), ("a_b", {}, [NAME_RULE.format("a_b")]),
    ("-a", {}, [NAME_RULE.format("-a")]), ("a" * 64, {}, [NAME_RULE.format("a" * 64)]),
    ("kube-system", {}, [RESERVED.format("kube-system", "kube-*")]),
    ("kube-x", {}, [RESERVED.format("kube-x", "kube-*")]),
    ("default", {}, [RESERVED.format("default", "default")]),
    ("argocd", {}, [RESERVED.format("argocd", "argocd")]),
    ("traefik", {}, ["p.yaml:1:1: error: project: project 'traefik' would deploy into the ingress controller's "
                     "namespace (setting ingress_namespace)"]),
    ("traefik", {"CMP_INGRESS_NAMESPACE": "kube-system"}, []),
    ("platform-x", {"CMP_RESERVED_NAMESPACES": "platform-*,monitoring"}, [RESERVED.format("platform-x", "platform-*")]),
    ("monitoring", {"CMP_RESERVED_NAMESPACES": "platform-*,monitoring"}, [RESERVED.format("monitoring", "monitoring")]),
    ("monitoring2", {"CMP_RESERVED_NAMESPACES": "platform-*,monitoring"}, []),
    # the platform's own namespaces stay reserved whatever the setting adds
    ("kube-system", {"CMP_RESERVED_NAMESPACES": "platform-*"}, [RESERVED.format("kube-system", "kube-*")]),
]


@pytest.mark.parametrize("project,env,expected", NAMES, ids=[f"{n[:12]}-{sorted(e)}" for n, e, _ in NAMES])
def test_the_project_name_and_the_namespaces_it_may_not_take(project, env, expected):
    assert problems(APP, project, env) == expected


def test_every_problem_is_found_in_one_pass_in_file_order():
    text = ("applications:\n"
            "  - name: api\n"
            "    git: {owner: o, repo: r, branch: main, hash: nothex}\n"
            "    port: 70000\n"
            "databases:\n"
            "  - {name: api, type: postgres, version: '16', port: 5432, size: 1Gi}\n")
    assert problems(text, "Bad_Name") == [
        NAME_RULE.format("Bad_Name"),
        "p.yaml:3:50: error: applications[0].git.hash: 'nothex' must be 40 lowercase hex characters, or empty",
        "p.yaml:4:11: error: applications[0].port: 70000 is greater than the maximum of 65535",
        "p.yaml:6:12: error: databases[0].name: name 'api' is already used on line 2 (applications and databases "
        "share one namespace of Services)"]
