"""Every rendered object validates against the schema of the system that will read it.

argoproj.io and traefik.* kinds: the upstream JSON Schemas in ../shared/schemas (Draft 7, root made
strict with propertyNames, the Sensor's embedded Workflow validated on its own). Core kinds:
kubernetes-validate, strict mode, the newest Kubernetes version it ships. No kind may fall through.
"""

from __future__ import annotations

import copy
from collections import Counter

import pytest

from cmp_plugin.pipeline import render_file

from ._support import (CORE_KINDS, EXAMPLE_FILES, FULL_PROJECT, SETTINGS_VARIANTS, UPSTREAM_GROUPS, all_object_errors,
                       docs_of, k8s_errors, k8s_version, name_problems, object_errors, require_shared, settings_for,
                       upstream_errors, write_project)


@pytest.fixture(autouse=True)
def _shared():
    require_shared()


@pytest.fixture(scope="module")
def full_file(tmp_path_factory):
    return write_project(tmp_path_factory.mktemp("full"), "full", FULL_PROJECT)


def _render(path, env):
    return docs_of(render_file(str(path), settings=settings_for(env), env={}))


CASES = [(f, "defaults") for f in EXAMPLE_FILES] + [(None, v) for v in SETTINGS_VARIANTS]


@pytest.mark.parametrize("source, variant", CASES,
                         ids=[f"{f.stem if f else 'full'}-{v}" for f, v in CASES])
def test_every_object_validates(source, variant, full_file):
    docs = _render(source or full_file, SETTINGS_VARIANTS[variant])
    assert docs
    assert all_object_errors(docs) == []
    assert [p for d in docs for p in name_problems(d)] == []


def test_examples_cover_every_kind_and_settings_branch(full_file):
    """The cases above exercise every kind and every settings-dependent branch of the templates."""
    kinds = Counter()
    seen = set()
    for variant, env in SETTINGS_VARIANTS.items():
        docs = _render(full_file, env)
        seen.add(("isolation", variant, frozenset(d["kind"] for d in docs) >= {"NetworkPolicy", "ResourceQuota"}))
        for doc in docs:
            kinds[(doc["apiVersion"], doc["kind"])] += 1
            if doc["kind"] == "IngressRoute":
                seen.add(("api", doc["apiVersion"]))
                seen.add(("tls", repr(doc["spec"].get("tls"))))
            if doc["kind"] == "WorkflowTemplate":
                build = next(t for t in doc["spec"]["templates"] if t["name"] == "build-container")
                seen.add(("hostAliases", bool(build.get("hostAliases"))))
                seen.add(("latest", any(a.endswith(":latest") for a in build["container"]["args"])))
            if doc["kind"] == "NetworkPolicy":
                seen.add(("policy", doc["spec"]["policyTypes"][0]))
    assert {k for _, k in kinds} == {"Secret", "Service", "ServiceAccount", "Role", "RoleBinding", "Deployment",
                                     "StatefulSet", "EventBus", "EventSource", "Sensor", "WorkflowTemplate", "IngressRoute",
                                     "NetworkPolicy", "ResourceQuota", "LimitRange"}
    assert {("api", "traefik.io/v1alpha1"), ("api", "traefik.containo.us/v1alpha1"), ("tls", "None"), ("tls", "{}"),
            ("tls", "{'certResolver': 'letsencrypt'}"), ("hostAliases", True), ("hostAliases", False),
            ("latest", True), ("latest", False), ("policy", "Ingress"), ("policy", "Egress"),
            ("isolation", "defaults", True), ("isolation", "no-isolation", False)} <= seen
    for api, kind in kinds:  # each kind goes to exactly one validator
        assert (api.rpartition("/")[0] in UPSTREAM_GROUPS) != ((api, kind) in CORE_KINDS), (api, kind)


def test_unknown_kind_falls_through_loudly():
    with pytest.raises(AssertionError, match="covered by neither"):
        object_errors({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "x"}})
    with pytest.raises(AssertionError, match="no upstream schema"):
        object_errors({"apiVersion": "argoproj.io/v1alpha1", "kind": "CronWorkflow", "metadata": {"name": "x"}})


def test_kubernetes_version_is_recent():
    major, minor = (int(p) for p in k8s_version().split(".")[:2])
    assert (major, minor) >= (1, 30)


# The validators must be able to fail: each broken copy of a real rendered object is rejected.
def _find(docs, kind):
    return copy.deepcopy(next(d for d in docs if d["kind"] == kind))


def _break_eventbus(d):
    d["spec"]["jetstream"]["antiAffinity"] = False  # NATS Streaming's, removed in Argo Events v1.5 (seed defect)


def _break_eventbus_security(d):
    d["spec"]["jetstream"]["containerTemplate"]["securityContext"]["dropCapabilities"] = ["ALL"]


def _break_sensor_filter(d):
    d["spec"]["dependencies"][0]["filters"]["data"][0]["values"] = d["spec"]["dependencies"][0]["filters"]["data"][0].pop("value")


def _break_root(d):
    d["specs"] = d.pop("spec")


def _break_eventsource_port(d):
    gh = next(iter(d["spec"]["github"].values()))
    gh["webhook"]["port"] = 12000  # must be a string


def _break_sensor_workflow(d):
    d["spec"]["triggers"][0]["template"]["k8s"]["source"]["resource"]["spec"]["workflowTemplateRefs"] = {"name": "x"}


def _break_workflowtemplate(d):
    d["spec"]["templates"][0]["dags"] = d["spec"]["templates"][0].pop("dag")


def _break_ingressroute(d):
    d["spec"]["routes"][0]["kind"] = "Rules"


def _break_deployment(d):
    d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = 3


def _break_statefulset(d):
    d["spec"]["volumeClaimTemplate"] = d["spec"].pop("volumeClaimTemplates")


def _break_secret(d):
    d["stringdata"] = d.pop("stringData")


def _break_role(d):
    d["rules"][0]["verb"] = d["rules"][0].pop("verbs")


def _break_networkpolicy(d):
    d["spec"]["policyTypes"] = "Ingress"  # a list


def _break_limitrange(d):
    d["spec"]["limits"][0]["defaultRequests"] = d["spec"]["limits"][0].pop("defaultRequest")


BROKEN = [("NetworkPolicy", _break_networkpolicy), ("ResourceQuota", _break_root), ("LimitRange", _break_limitrange),
          ("EventBus", _break_eventbus), ("EventBus", _break_eventbus_security), ("EventSource", _break_root),
          ("EventSource", _break_eventsource_port), ("Sensor", _break_sensor_workflow), ("Sensor", _break_sensor_filter),
          ("WorkflowTemplate", _break_workflowtemplate),
          ("IngressRoute", _break_ingressroute), ("IngressRoute", _break_root), ("Deployment", _break_deployment),
          ("StatefulSet", _break_statefulset), ("Secret", _break_secret), ("Role", _break_role),
          ("Service", _break_root)]


@pytest.mark.parametrize("kind, breaker", BROKEN, ids=[b.__name__[7:] + "-" + k for k, b in BROKEN])
def test_validators_reject_broken_objects(kind, breaker, full_file):
    for env in (SETTINGS_VARIANTS["defaults"], SETTINGS_VARIANTS["traefik-v2"]):
        doc = _find(_render(full_file, env), kind)
        assert object_errors(doc) == []
        breaker(doc)
        assert object_errors(doc), f"{kind} broken by {breaker.__name__} still validates"


def test_sensor_embedded_workflow_is_validated_separately(full_file):
    sensor = _find(_render(full_file, {}), "Sensor")
    resource = sensor["spec"]["triggers"][0]["template"]["k8s"]["source"]["resource"]
    resource["spec"]["entrypointt"] = "build"
    errors = upstream_errors(sensor)
    assert errors and all("template/k8s/source/resource/" in e for e in errors)
    resource["spec"].pop("entrypointt")
    resource["kind"] = "Deployment"
    assert upstream_errors(sensor)


def test_k8s_strict_mode_rejects_unknown_fields(full_file):
    svc = _find(_render(full_file, {}), "Service")
    svc["spec"]["ports"][0]["targetport"] = 1
    assert k8s_errors(svc)
