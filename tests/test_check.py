"""Stage 5, check, in-process: each rule on the smallest output that breaks it, and the same
output repaired passes."""

from __future__ import annotations

import copy

import pytest

from cmp_plugin.check import check

PREFIX = "kv/data/shop"


def obj(kind: str, name: str, api: str = "v1", **body) -> dict:
    return {"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": "shop"}, **body}


def deployment(name: str, labels: dict, **pod) -> dict:
    return obj("Deployment", name, "apps/v1", spec={"selector": {"matchLabels": labels},
                                                    "template": {"metadata": {"labels": labels}, "spec": pod}})


def container(**fields) -> dict:
    return {"name": "app", "image": "nginx:1.27", **fields}


SECRET = obj("Secret", "db", stringData={"password": f"<path:{PREFIX}/db#password>"})
WEB = deployment("web", {"app": "web"}, serviceAccountName="web",
                 containers=[container(env=[{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}])])
SERVICE = obj("Service", "web", spec={"selector": {"app": "web"}, "ports": [{"port": 80}]})
ACCOUNT = obj("ServiceAccount", "web")
CLEAN = [ACCOUNT, SECRET, SERVICE, WEB]


def messages(docs: list[dict], resolved: bool = False) -> list[str]:
    return [p.format() for p in check(docs, vault_prefix=PREFIX, resolved=resolved)]


def replaced(docs: list[dict], index: int, change) -> list[dict]:
    docs = copy.deepcopy(docs)
    change(docs[index])
    return docs


def test_a_whole_output_passes():
    assert messages(CLEAN) == []


def test_empty_output_is_refused():
    assert messages([]) == ["error: check: the render produced no objects; refusing empty output "
                            "(Argo CD would prune everything)"]


BROKEN = [
    ("no-api-version", replaced(CLEAN, 0, lambda d: d.pop("apiVersion")),
     ["error: check: object #1 lacks apiVersion, kind or metadata.name"]),
    ("no-name", replaced(CLEAN, 2, lambda d: d["metadata"].pop("name")),
     ["error: check: object #3 lacks apiVersion, kind or metadata.name"]),
    ("defined-twice", CLEAN + [copy.deepcopy(SERVICE)], ["error: check: Service 'web' is defined twice"]),
    ("missing-service-account", [SECRET, SERVICE, WEB],
     ["error: check: Deployment 'web' spec.template.spec.serviceAccountName refers to ServiceAccount 'web', which the output does not define"]),
    ("missing-secret-key", replaced(CLEAN, 1, lambda d: d.update(stringData={"user": "app"})),
     ["error: check: Deployment 'web' spec.template.spec.containers.0.env.0.valueFrom.secretKeyRef refers to key 'password' of "
      "Secret 'db', which has no such key"]),
    ("selector-matches-nothing", replaced(CLEAN, 2, lambda d: d["spec"].update(selector={"app": "api"})),
     ["error: check: Service 'web' selects the pods of 0 workloads (none); expected exactly one"]),
    ("selector-matches-two", CLEAN + [deployment("web2", {"app": "web"}, serviceAccountName="web",
                                                 containers=[container()])],
     ["error: check: Service 'web' selects the pods of 2 workloads (Deployment 'web', Deployment 'web2'); "
      "expected exactly one"]),
    ("placeholder-outside-a-secret", CLEAN + [obj("ConfigMap", "c", data={"k": f"<path:{PREFIX}/c#k>"})],
     ["error: check: ConfigMap 'c' data.k: Vault placeholders are only allowed in Secret objects "
      "(the values of data and stringData)"]),
    ("placeholder-outside-the-prefix", replaced(CLEAN, 1, lambda d: d.update(stringData={"password": "<path:kv/data/other/db#pw>"})),
     ["error: check: Secret 'db' stringData.password: Vault path 'kv/data/other/db' is outside the project's "
      "prefix 'kv/data/shop'/"]),
    ("placeholder-climbing-out", replaced(CLEAN, 1, lambda d: d.update(stringData={"password": f"<path:{PREFIX}/../x#pw>"})),
     ["error: check: Secret 'db' stringData.password: Vault path 'kv/data/shop/../x' is outside the project's "
      "prefix 'kv/data/shop'/"]),
]


@pytest.mark.parametrize("docs,expected", [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN])
def test_each_rule_names_what_breaks_it(docs, expected):
    assert messages(docs) == expected


def test_a_resolved_output_may_hold_no_placeholder():
    assert messages(CLEAN, resolved=True) == [
        "error: check: Secret 'db' stringData.password still holds an unresolved Vault placeholder"]
    filled = replaced(CLEAN, 1, lambda d: d.update(stringData={"password": "s3cret"}))
    assert messages(filled, resolved=True) == []


def test_an_eventsource_defines_its_service():
    source = obj("EventSource", "github", "argoproj.io/v1alpha1", spec={"service": {"ports": [{"port": 12000}]}})
    route = obj("IngressRoute", "hook", "traefik.io/v1alpha1",
                spec={"routes": [{"services": [{"name": "github-eventsource-svc", "port": 12000}]}]})
    assert messages(CLEAN + [source, route]) == []
    source["spec"].pop("service")
    assert messages(CLEAN + [source, route]) == [
        "error: check: IngressRoute 'hook' spec.routes[0].services[0].name refers to Service "
        "'github-eventsource-svc', which the output does not define"]
