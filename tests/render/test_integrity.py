"""Referential integrity of the output, checked by an independent checker (_support.integrity_problems),
plus cmp_plugin.check.check on the same objects, and the cases check() must refuse.
"""

from __future__ import annotations

import copy
from collections import Counter

import pytest
import yaml

from cmp_plugin.check import check
from cmp_plugin.pipeline import load_project, render_documents, render_file, validate_text
from cmp_plugin.problems import Failure

from ._support import (EXAMPLE_FILES, FULL_PROJECT, HASH_A, HASH_B, SETTINGS_VARIANTS, app, db, docs_of,
                       integrity_problems, project_text, settings_for, write_project)

# once per project with git apps, however many: one EventBus, EventSource and Sensor
CI = {"ServiceAccount": 1, "Role": 1, "RoleBinding": 1, "EventBus": 1, "EventSource": 1, "Sensor": 1}
GH_SECRETS = 2  # <project>-github-access-secret and registry-secret


def _per_app(n_apps):  # CI objects of n applications
    return {"WorkflowTemplate": n_apps}


def _isolation(exposed: int, ci: bool, egress: bool = False):
    """default-deny and same-namespace, one per workload with a port, webhooks with CI, restrict-egress."""
    return {"NetworkPolicy": 2 + exposed + ci + egress, "ResourceQuota": 1, "LimitRange": 1}


def _expect(*parts: dict) -> dict:
    total = Counter()
    for part in parts:
        total.update(part)
    return {k: v for k, v in total.items() if v}


# (id, project name, text, settings variant, expected object counts by kind)
GENERATED = [
    ("ci-only", "ci", project_text(apps=[app("api", hash=None)]), "defaults",
     _expect(CI, _per_app(1), _isolation(0, True), {"Secret": GH_SECRETS, "IngressRoute": 1})),
    ("empty-hash-string", "ci", project_text(apps=[app("api", hash="", domains=["a.example"], secrets=["K"])]), "defaults",
     _expect(CI, _per_app(1), _isolation(0, True), {"Secret": GH_SECRETS, "IngressRoute": 1})),
    ("deployed-app", "web", project_text(apps=[app("site", domains=["a.example", "b.example"], secrets=["TOKEN", "DSN"])]),
     "defaults",
     _expect(CI, _per_app(1), _isolation(1, True),
             {"Secret": GH_SECRETS + 1, "IngressRoute": 1 + 2, "Deployment": 1, "Service": 1})),
    ("deployed-no-domains-no-secrets", "web", project_text(apps=[app("site", port=1)]), "no-tls",
     _expect(CI, _per_app(1), _isolation(1, True), {"Secret": GH_SECRETS, "IngressRoute": 1, "Deployment": 1, "Service": 1})),
    *[(f"db-only-{t}", "data", project_text(dbs=[db("store", t)]), "defaults",
       _expect(_isolation(0, False), {"Secret": 1, "Service": 1, "StatefulSet": 1})) for t in ("mysql", "postgres", "redis", "mongodb")],
    ("db-custom-ports", "data",
     project_text(dbs=[db("a", "mysql", port=13306), db("b", "postgres", port=15432), db("c", "redis", port=1),
                       db("d", "mongodb", port=65535)]), "defaults",
     _expect(_isolation(0, False), {"Secret": 4, "Service": 4, "StatefulSet": 4})),
    ("many-apps-many-domains", "multi",
     project_text(apps=[app(n, hash=h, domains=[f"{d}.{n}.example" for d in ("www", "m", "api")], secrets=["S"])
                        for n, h in (("one", HASH_A), ("two", HASH_B), ("three", None))],
                  dbs=[db("one-db", "postgres"), db("two-db", "redis")]), "cert-resolver",
     _expect(CI, _per_app(3), _isolation(2, True), {"Secret": GH_SECRETS + 2 + 2, "IngressRoute": 3 + 6, "Deployment": 2, "Service": 2 + 2,
                               "StatefulSet": 2})),
    # the longest names the limits allow: eventbus-<project>-ci-bus-js is 52 (the StatefulSet limit),
    # <project>-<app>-build-workflow- is 58 (a Workflow name with its 5 random characters)
    ("longest-names", "a" * 33,
     project_text(apps=[app("b" * 8, domains=["x" * 63 + ".example"])],
                  dbs=[db("d" * 15, "mongodb")]), "defaults",
     _expect(CI, _per_app(1), _isolation(1, True), {"Secret": GH_SECRETS + 1, "IngressRoute": 2, "Deployment": 1, "Service": 2,
                               "StatefulSet": 1})),
    ("full-defaults", "full", FULL_PROJECT, "defaults",
     _expect(CI, _per_app(4), _isolation(2, True), {"Secret": GH_SECRETS + 1 + 8, "IngressRoute": 4 + 4, "Deployment": 2, "Service": 2 + 8,
                               "StatefulSet": 8})),
    ("full-everything", "full", FULL_PROJECT, "everything",
     _expect(CI, _per_app(4), _isolation(2, True, egress=True), {"Secret": GH_SECRETS + 1 + 8, "IngressRoute": 4 + 4, "Deployment": 2, "Service": 2 + 8,
                               "StatefulSet": 8})),
]


def _render(tmp_path, name, text, variant):
    settings = settings_for(SETTINGS_VARIANTS[variant])
    path = write_project(tmp_path, name, text)
    project = load_project(str(path), settings=settings)
    docs = render_documents(project, settings)
    return project, docs, docs_of(render_file(str(path), settings=settings, env={}))


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=[p.stem for p in EXAMPLE_FILES])
@pytest.mark.parametrize("variant", ["defaults", "everything"])
def test_examples_have_integrity(path, variant):
    settings = settings_for(SETTINGS_VARIANTS[variant])
    project = load_project(str(path), settings=settings)
    docs = render_documents(project, settings)
    data = yaml.safe_load(path.read_text("utf-8"))  # apps with a prebuilt image run the image it names
    assert integrity_problems(docs, data) == []
    assert check(docs, vault_prefix=project.vault_prefix, resolved=False) == []
    printed = docs_of(render_file(str(path), settings=settings, env={}))
    assert integrity_problems(printed, data) == []
    assert sorted(map(repr, printed)) == sorted(map(repr, docs)), "emit changed an object"


@pytest.mark.parametrize("case", GENERATED, ids=[c[0] for c in GENERATED])
def test_generated_projects_have_integrity(case, tmp_path):
    _, name, text, variant, expected = case
    assert validate_text(text, f"{name}.yaml", settings=settings_for(SETTINGS_VARIANTS[variant])) == []
    project, docs, printed = _render(tmp_path, name, text, variant)
    assert dict(Counter(d["kind"] for d in docs)) == expected
    assert integrity_problems(docs) == []
    assert integrity_problems(printed) == []
    assert check(docs, vault_prefix=project.vault_prefix, resolved=False) == []
    assert {d["metadata"]["namespace"] for d in docs} == {name}


def test_longest_names_are_the_limit(tmp_path):
    """One character more than the longest-names case is refused by validation, not by Kubernetes."""
    text = project_text(apps=[app("b" * 9)])
    problems = validate_text(text, "a" * 33 + ".yaml")
    assert [(p.rule, p.line) for p in problems] == [("name-length", 2)]
    assert "workflow prefix" in problems[0].message
    text = project_text(apps=[app("b")])
    problems = validate_text(text, "a" * 34 + ".yaml")
    assert problems and all((p.rule, p.line, p.path) == ("name-length", 1, "project") for p in problems)
    assert any("eventbus statefulset" in p.message for p in problems)
    text = project_text(dbs=[db("d" * 16, "redis")])
    assert [p.rule for p in validate_text(text, "a" * 33 + ".yaml")] == ["name-length"]
    # the CI names do not bind a project without git applications
    assert validate_text(project_text(dbs=[db("d", "redis")]), "a" * 40 + ".yaml") == []


# Projects whose derived names collide. Contract: what validation accepts renders, with integrity.
# (cmp-render check says OK for each of these; see the report to the lead.)
COLLISIONS = [
    ("route-slug-same-app", "slug", project_text(apps=[app("web", domains=["my-site.example", "my.site.example"])])),
    ("route-slug-across-apps", "cross", project_text(apps=[app("x", domains=["y.example"]), app("x-y", domains=["example"])])),
    ("route-vs-webhook-route", "hook", project_text(apps=[app("web", domains=["webhook"])])),
    ("db-secret-vs-github-secret", "gh", project_text(apps=[app("web")], dbs=[db("github-access", "redis")])),
    ("app-secret-vs-github-secret", "gh", project_text(apps=[app("web"), app("github-access", secrets=["K"])])),
    ("db-service-vs-eventsource-service", "es",
     project_text(apps=[app("web")], dbs=[db("es-ci-github-eventsource-svc", "redis")])),
    ("db-service-vs-eventbus-service", "es",
     project_text(apps=[app("web")], dbs=[db("eventbus-es-ci-bus-js-svc", "redis")])),
]


@pytest.mark.parametrize("case", COLLISIONS, ids=[c[0] for c in COLLISIONS])
def test_validation_accepts_only_renderable_projects(case, tmp_path):
    _, name, text = case
    if validate_text(text, f"{name}.yaml"):
        return  # refused up front, with a place in the file: fine
    path = write_project(tmp_path, name, text)
    try:
        printed = docs_of(render_file(str(path), settings=settings_for({}), env={}))
    except Failure as failure:
        pytest.fail(f"validation accepted {name}.yaml but the render failed:\n{failure}")
    assert integrity_problems(printed) == []


# --------------------------------------------------------------------------- check() must refuse


@pytest.fixture(scope="module")
def shop():
    settings = settings_for({})
    project = load_project(str(next(p for p in EXAMPLE_FILES if p.stem == "shop")), settings=settings)
    docs = render_documents(project, settings)
    assert check(docs, vault_prefix=project.vault_prefix, resolved=False) == []
    assert integrity_problems(docs) == []
    return project, docs


def _drop(kind, name):
    def mutate(docs):
        before = len(docs)
        docs[:] = [d for d in docs if (d["kind"], d["metadata"]["name"]) != (kind, name)]
        assert len(docs) == before - 1
    return mutate


def _get(docs, kind, name):
    return next(d for d in docs if (d["kind"], d["metadata"]["name"]) == (kind, name))


def _drop_key(kind, name, key):
    def mutate(docs):
        del _get(docs, kind, name)["stringData"][key]
    return mutate


def _set_secret_value(name, key, value):
    def mutate(docs):
        _get(docs, "Secret", name)["stringData"][key] = value
    return mutate


def _duplicate(kind, name):
    def mutate(docs):
        docs.append(copy.deepcopy(_get(docs, kind, name)))
    return mutate


def _placeholder_in_deployment(docs):
    container = _get(docs, "Deployment", "api-app")["spec"]["template"]["spec"]["containers"][0]
    container["env"] = [{"name": "LEAK", "value": "<path:kv/data/shop/apps/api#STRIPE_API_KEY>"}]


def _no_name(docs):
    del _get(docs, "Service", "api")["metadata"]["name"]


def _no_objects(docs):
    docs.clear()


def _secret_key_ref_missing_key(docs):
    env = _get(docs, "StatefulSet", "shop-orders-db")["spec"]["template"]["spec"]["containers"][0]["env"]
    env.append({"name": "X", "valueFrom": {"secretKeyRef": {"name": "shop-orders-secret", "key": "root-password"}}})


# (id, mutation, rule check() reports, whether the independent checker must flag it too)
NEGATIVE = [
    ("missing-github-secret", _drop("Secret", "shop-github-access-secret"), "reference", True),
    ("missing-registry-secret", _drop("Secret", "registry-secret"), "reference", True),
    ("missing-app-secret", _drop("Secret", "shop-api-secret"), "reference", True),
    ("missing-db-secret", _drop("Secret", "shop-orders-secret"), "reference", True),
    ("missing-key-token", _drop_key("Secret", "shop-github-access-secret", "token"), "reference", True),
    ("missing-key-webhook-secret", _drop_key("Secret", "shop-github-access-secret", "webhook-secret"), "reference", True),
    ("missing-key-password", _drop_key("Secret", "shop-cache-secret", "password"), "reference", True),
    ("missing-key-dockerconfigjson", _drop_key("Secret", "registry-secret", ".dockerconfigjson"), "reference", True),
    ("secretKeyRef-to-absent-key", _secret_key_ref_missing_key, "reference", True),
    ("missing-app-service", _drop("Service", "api"), "reference", True),
    ("missing-db-service", _drop("Service", "orders"), "reference", True),
    ("missing-service-account", _drop("ServiceAccount", "shop-ci-workflow-sa"), "reference", True),
    ("missing-role", _drop("Role", "shop-ci-workflow-role"), "reference", True),
    ("missing-eventbus", _drop("EventBus", "shop-ci-bus"), "reference", True),
    ("missing-eventsource", _drop("EventSource", "shop-ci-github"), "reference", True),
    ("missing-workflowtemplate", _drop("WorkflowTemplate", "shop-api-build-workflow-template"), "reference", True),
    ("duplicate-deployment", _duplicate("Deployment", "api-app"), "duplicate-object", True),
    ("duplicate-secret", _duplicate("Secret", "registry-secret"), "duplicate-object", True),
    ("placeholder-other-project", _set_secret_value("shop-api-secret", "STRIPE_API_KEY",
                                                    "<path:kv/data/other/apps/api#STRIPE_API_KEY>"), "placeholder-scope", False),
    ("placeholder-prefix-lookalike", _set_secret_value("shop-api-secret", "STRIPE_API_KEY",
                                                       "<path:kv/data/shopping/apps/api#K>"), "placeholder-scope", False),
    ("placeholder-prefix-itself", _set_secret_value("shop-api-secret", "STRIPE_API_KEY",
                                                    "<path:kv/data/shop#K>"), "placeholder-scope", False),
    ("placeholder-dotdot-escape", _set_secret_value("shop-api-secret", "STRIPE_API_KEY",
                                                    "<path:kv/data/shop/../other/apps/api#K>"), "placeholder-scope", False),
    ("placeholder-second-in-value", _set_secret_value("shop-api-secret", "STRIPE_API_KEY",
                                                      "<path:kv/data/shop/apps/api#A><path:kv/data/x#B>"),
     "placeholder-scope", False),
    ("placeholder-outside-secret", _placeholder_in_deployment, "placeholder-scope", False),
    ("object-without-name", _no_name, "object", True),
    ("zero-objects", _no_objects, "empty-output", False),
]


@pytest.mark.parametrize("case", NEGATIVE, ids=[c[0] for c in NEGATIVE])
def test_check_refuses(case, shop):
    _, mutate, rule, independent = case
    project, docs = shop
    docs = copy.deepcopy(docs)
    mutate(docs)
    problems = check(docs, vault_prefix=project.vault_prefix, resolved=False)
    assert rule in {p.rule for p in problems}, [p.format() for p in problems]
    for p in problems:
        assert p.format().startswith("error: check: "), p.format()
    if independent:
        assert integrity_problems(docs), "the independent checker missed it"


def test_check_refuses_unresolved_placeholders_after_resolve(shop):
    project, docs = shop
    problems = check(copy.deepcopy(docs), vault_prefix=project.vault_prefix, resolved=True)
    assert problems and {p.rule for p in problems} == {"unresolved"}
    secrets = [d for d in docs if d["kind"] == "Secret"]
    assert len(problems) == sum(len(d["stringData"]) for d in secrets)


def test_check_messages_never_carry_secret_values(shop):
    project, docs = shop
    docs = copy.deepcopy(docs)
    _get(docs, "Secret", "shop-api-secret")["stringData"]["STRIPE_API_KEY"] = "sk_live_SUPERSECRET"
    _drop("Service", "api")(docs)
    problems = check(docs, vault_prefix=project.vault_prefix, resolved=True)
    assert problems and not any("SUPERSECRET" in p.format() for p in problems)
