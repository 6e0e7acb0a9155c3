"""Project isolation: who may talk to whom under the rendered NetworkPolicies, and the ResourceQuota
and LimitRange the platform's settings give each project.

Reachability is decided by an evaluator written here from the NetworkPolicy semantics in the
Kubernetes documentation (a pod is isolated for a direction once a policy of that type selects it;
then a connection needs an allowing rule on both the sender's egress and the receiver's ingress).
The pods are the ones the rendered objects will run: ours from their pod templates, Argo's with the
labels their controllers set (Argo Workflows: workflows.argoproj.io/workflow and .../completed on
every workflow pod, plus podMetadata; Argo Events v1.9: controller, eventsource-name / sensor-name /
eventbus-name and owner-name, plus the template's labels).
"""

from __future__ import annotations

from collections import namedtuple

import pytest
import yaml

from cmp_plugin.pipeline import render_file, validate_text

from ._support import (EXAMPLE_FILES, EXAMPLES, FULL_PROJECT, HASH_A, all_object_errors, docs_of, pod_template, require_shared,
                       settings_for, write_project)

# namespace None: an address outside the cluster (no selector matches it)
Pod = namedtuple("Pod", "name namespace labels ports")
TCP, UDP = "TCP", "UDP"

PROJECT = "iso"
RICH = {
    "applications": [
        {"name": "web", "git": {"owner": "acme", "repo": "web", "branch": "main", "hash": HASH_A}, "port": 8000,
         "domains": ["iso.example.com"], "uses": ["db", "cache"],
         "processes": [{"name": "grpc", "command": ["serve-grpc"], "port": 9090},
                       {"name": "worker", "command": ["work"]}],
         "jobs": [{"name": "migrate", "command": ["migrate"], "before": "deploy"},
                  {"name": "nightly", "command": ["report"], "schedule": "0 3 * * *"}]},
        {"name": "unbuilt", "git": {"owner": "acme", "repo": "unbuilt", "branch": "main", "hash": None}, "port": 8080},
        {"name": "docs", "image": "nginx:1.27", "port": 8080, "domains": ["docs.iso.example.com"]},
    ],
    "databases": [
        {"name": "db", "type": "postgres", "version": "16", "port": 5432, "size": "1Gi"},
        {"name": "cache", "type": "redis", "version": "7.4", "port": 6380, "size": "1Gi"},
    ],
}


def render(tmp_path, env: dict, data: dict = RICH, name: str = PROJECT, settings_file: str | None = None) -> list[dict]:
    from cmp_plugin.settings import load_settings

    text = yaml.safe_dump(data, sort_keys=False)
    tmp_path.mkdir(parents=True, exist_ok=True)
    settings = load_settings(env=dict(env), file=settings_file)
    assert validate_text(text, f"{name}.yaml", settings=settings) == []
    path = write_project(tmp_path, name, text)
    return docs_of(render_file(str(path), settings=settings, env={}))


def of(docs, kind) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


# --------------------------------------------------------------------------- the evaluator

def selects(selector: dict | None, labels: dict) -> bool:
    """A label selector; {} selects everything."""
    selector = selector or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for e in selector.get("matchExpressions") or []:
        key, op, values = e["key"], e["operator"], e.get("values") or []
        ok = {"In": key in labels and labels[key] in values, "NotIn": labels.get(key) not in values,
              "Exists": key in labels, "DoesNotExist": key not in labels}[op]
        if not ok:
            return False
    return True


def _peer_matches(peer: dict, pod: Pod, policy_ns: str) -> bool:
    assert "ipBlock" not in peer, "the evaluator does not model ipBlock"
    if pod.namespace is None:
        return False
    if "namespaceSelector" in peer:
        if not selects(peer["namespaceSelector"], {"kubernetes.io/metadata.name": pod.namespace}):
            return False
    elif pod.namespace != policy_ns:
        return False
    return "podSelector" not in peer or selects(peer["podSelector"], pod.labels)


def _port_matches(ports: list | None, port: int, protocol: str) -> bool:
    return not ports or any(p.get("protocol", TCP) == protocol and p.get("port") in (None, port) for p in ports)


def _allowed(policies, pod: Pod, peer: Pod, port: int, protocol: str, direction: str) -> bool:
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    isolating = [p for p in policies if p["metadata"]["namespace"] == pod.namespace
                 and direction in p["spec"]["policyTypes"] and selects(p["spec"]["podSelector"], pod.labels)]
    if not isolating:
        return True
    return any(_port_matches(rule.get("ports"), port, protocol)
               and (not rule.get(peers_key) or any(_peer_matches(x, peer, p["metadata"]["namespace"])
                                                   for x in rule[peers_key]))
               for p in isolating for rule in p["spec"].get(key) or [])


def reaches(policies, src: Pod, dst: Pod, port: int, protocol: str = TCP) -> bool:
    return (_allowed(policies, src, dst, port, protocol, "Egress")
            and _allowed(policies, dst, src, port, protocol, "Ingress"))


# --------------------------------------------------------------------------- the pods

def our_pods(docs) -> dict[str, Pod]:
    """The pods of every workload the renderer writes, with their container ports."""
    out = {}
    for w in docs:
        if w["kind"] in ("Deployment", "StatefulSet", "Job", "CronJob"):
            template = pod_template(w)
            ports = {p["containerPort"] for c in template["spec"]["containers"] for p in c.get("ports") or []}
            out[f"{w['kind']}/{w['metadata']['name']}"] = Pod(w["metadata"]["name"], w["metadata"]["namespace"],
                                                              template["metadata"]["labels"], ports)
    return out


def argo_pods(docs) -> dict[str, Pod]:
    """The pods Argo's controllers create for the rendered CI objects, labelled as they label them."""
    out = {}
    for es in of(docs, "EventSource"):
        name = es["metadata"]["name"]
        labels = {"controller": "eventsource-controller", "eventsource-name": name, "owner-name": name,
                  **(((es["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {})}
        out[f"eventsource/{name}"] = Pod(name, es["metadata"]["namespace"], labels, set())
    for sensor in of(docs, "Sensor"):
        name = sensor["metadata"]["name"]
        labels = {"controller": "sensor-controller", "sensor-name": name, "owner-name": name,
                  **(((sensor["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {})}
        out[f"sensor/{name}"] = Pod(name, sensor["metadata"]["namespace"], labels, set())
    for bus in of(docs, "EventBus"):
        name = bus["metadata"]["name"]
        native = bus["spec"].get("nats", {}).get("native") or bus["spec"].get("jetstream") or {}
        labels = {"controller": "eventbus-controller", "eventbus-name": name, "owner-name": name,
                  **((native.get("metadata") or {}).get("labels") or {})}
        out[f"eventbus/{name}"] = Pod(name, bus["metadata"]["namespace"], labels, {4222, 6222, 8222})
    for wt in of(docs, "WorkflowTemplate"):
        workflow = wt["metadata"]["name"] + "-x7k2p"
        base = {"workflows.argoproj.io/workflow": workflow, "workflows.argoproj.io/completed": "false",
                **((wt["spec"].get("podMetadata") or {}).get("labels") or {})}
        for t in wt["spec"]["templates"]:
            if t.get("container"):
                labels = {**base, **((t.get("metadata") or {}).get("labels") or {})}
                out[f"workflow/{workflow}/{t['name']}"] = Pod(t["name"], wt["metadata"]["namespace"], labels, set())
    return out


TRAEFIK = Pod("traefik", "traefik", {"app.kubernetes.io/name": "traefik"}, {80, 443})
KUBE_DNS = Pod("coredns", "kube-system", {"k8s-app": "kube-dns"}, {53})
INTERNET = Pod("github.com", None, {}, {443})


def outsider(labels: dict) -> Pod:
    """A pod of another project that copies our labels: only the namespace tells it apart."""
    return Pod("intruder", "other", dict(labels), set())


# --------------------------------------------------------------------------- ingress

def test_ingress_controller_reaches_app_ports_and_webhooks_only(tmp_path):
    docs = render(tmp_path, {})
    policies = of(docs, "NetworkPolicy")
    ours, argo = our_pods(docs), argo_pods(docs)
    services = {s["metadata"]["name"]: s for s in of(docs, "Service")}
    exposed = set()
    for svc in services.values():
        targets = [p for p in ours.values() if svc["spec"]["selector"] and selects({"matchLabels": svc["spec"]["selector"]},
                                                                                    p.labels)]
        assert len(targets) == 1
        pod, port = targets[0], svc["spec"]["ports"][0]["targetPort"]
        headless = svc["spec"].get("clusterIP") == "None"
        # Services of app workloads take the ingress controller's traffic on their port; databases none
        assert reaches(policies, TRAEFIK, pod, port) is not headless, svc["metadata"]["name"]
        assert not reaches(policies, TRAEFIK, pod, port + 1)
        if not headless:
            exposed.add(pod.name)
    assert exposed == {"web-app", "web-grpc", "docs-app"}
    for key, pod in ours.items():
        if pod.name not in exposed:  # the worker, jobs, databases: nothing from outside
            assert not any(reaches(policies, TRAEFIK, pod, port) for port in (pod.ports or {80}) | {5432, 6380}), key

    # the webhook port the EventSources serve, read from them
    sources = of(docs, "EventSource")
    assert [s["metadata"]["name"] for s in sources] == ["iso-ci-github"]  # one EventSource per project
    for es in sources:
        port = es["spec"]["service"]["ports"][0]["targetPort"]
        assert all(int(gh["webhook"]["port"]) == port for gh in es["spec"]["github"].values())
        pod = argo[f"eventsource/{es['metadata']['name']}"]
        assert reaches(policies, TRAEFIK, pod, port)
        assert not reaches(policies, TRAEFIK, pod, 7777), "metrics are not exposed"
    for key, pod in argo.items():
        if not key.startswith("eventsource/"):
            assert not reaches(policies, TRAEFIK, pod, 4222) and not reaches(policies, TRAEFIK, pod, 12000), key


def test_other_namespaces_reach_nothing_and_the_project_reaches_itself(tmp_path):
    docs = render(tmp_path, {})
    policies = of(docs, "NetworkPolicy")
    pods = {**our_pods(docs), **argo_pods(docs)}
    db = pods["StatefulSet/iso-db-db"]
    for key, pod in pods.items():
        for port in pod.ports | {12000, 5432}:
            assert not reaches(policies, outsider(pod.labels), pod, port), key
        assert reaches(policies, pod, db, 5432), f"{key} -> database"
    bus = next(p for k, p in pods.items() if k.startswith("eventbus/"))
    for key, pod in pods.items():
        if key.startswith(("eventsource/", "sensor/")):
            assert reaches(policies, pod, bus, 4222), f"{key} -> EventBus"
    # without restrict_egress, egress is open for everyone
    assert all(reaches(policies, pod, INTERNET, 443) for pod in pods.values())


def test_ingress_namespace_is_a_setting(tmp_path):
    docs = render(tmp_path, {"CMP_INGRESS_NAMESPACE": "kube-system"})
    policies = of(docs, "NetworkPolicy")
    web = our_pods(docs)["Deployment/web-app"]
    k3s_traefik = Pod("traefik", "kube-system", {"app.kubernetes.io/name": "traefik"}, {80})
    assert reaches(policies, k3s_traefik, web, 8000)
    assert not reaches(policies, TRAEFIK, web, 8000)


# --------------------------------------------------------------------------- egress

def test_restrict_egress_confines_app_and_database_pods_but_not_ci(tmp_path):
    docs = render(tmp_path, {"CMP_RESTRICT_EGRESS": "true"})
    policies = of(docs, "NetworkPolicy")
    ours, argo = our_pods(docs), argo_pods(docs)
    assert ours and {k.split("/")[0] for k in argo} == {"eventsource", "sensor", "eventbus", "workflow"}
    db = ours["StatefulSet/iso-db-db"]
    for key, pod in ours.items():
        assert not reaches(policies, pod, INTERNET, 443), key
        assert not reaches(policies, pod, TRAEFIK, 443), key
        assert reaches(policies, pod, KUBE_DNS, 53, UDP) and reaches(policies, pod, KUBE_DNS, 53, TCP), key
        assert not reaches(policies, pod, KUBE_DNS, 9153), key
        assert reaches(policies, pod, db, 5432), key
    for key, pod in argo.items():  # the API server, the registry, GitHub
        assert reaches(policies, pod, INTERNET, 443), key
    # ingress is unchanged
    assert reaches(policies, TRAEFIK, ours["Deployment/web-app"], 8000)


def test_egress_selector_takes_our_pods_and_never_argos():
    """The selector in isolation.py against pods labelled as the templates and Argo label them,
    including an Argo pod that somehow carries an `app` label too."""
    from cmp_plugin.model.isolation import ARGO_POD_LABELS, WORKLOAD_SELECTOR

    docs = docs_of(render_file(str(EXAMPLES / "blog.yaml"), env={}))
    for pod in our_pods(docs).values():
        assert selects(WORKLOAD_SELECTOR, pod.labels), pod
    argo = argo_pods(docs)
    assert argo
    for pod in argo.values():
        assert not selects(WORKLOAD_SELECTOR, pod.labels)
        assert not selects(WORKLOAD_SELECTOR, {**pod.labels, "app": "web-app"}), "an app label must not pull CI in"
        assert set(pod.labels) & set(ARGO_POD_LABELS)


def test_network_policies_can_be_turned_off(tmp_path):
    assert of(render(tmp_path / "a", {"CMP_NETWORK_POLICIES": "false"}), "NetworkPolicy") == []
    names = [p["metadata"]["name"] for p in of(render(tmp_path / "b", {"CMP_RESTRICT_EGRESS": "1"}), "NetworkPolicy")]
    assert sorted(names) == ["allow-ingress-docs-app", "allow-ingress-web-app", "allow-ingress-web-grpc",
                             "allow-same-namespace", "allow-webhooks", "default-deny-ingress", "restrict-egress"]


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=[p.stem for p in EXAMPLE_FILES])
def test_every_example_is_isolated(path):
    """For every example: each Service of an app takes the ingress controller's traffic on its port, no
    database does, and nothing outside the namespace reaches anything else."""
    docs = docs_of(render_file(str(path), env={}))
    policies = of(docs, "NetworkPolicy")
    pods = {**our_pods(docs), **argo_pods(docs)}
    for svc in of(docs, "Service"):
        port = svc["spec"]["ports"][0]["targetPort"]
        pod = next(p for p in pods.values() if selects({"matchLabels": svc["spec"]["selector"]}, p.labels))
        assert reaches(policies, TRAEFIK, pod, port) is (svc["spec"].get("clusterIP") != "None")
    for key, pod in pods.items():
        assert not any(reaches(policies, outsider(pod.labels), pod, port) for port in pod.ports | {12000}), key


# --------------------------------------------------------------------------- quota and limits

def test_default_quota_and_limit_range(tmp_path):
    docs = render(tmp_path, {})
    (quota,), (limits,) = of(docs, "ResourceQuota"), of(docs, "LimitRange")
    assert quota["metadata"]["name"] == "project-quota"
    assert quota["spec"] == {"hard": {"requests.cpu": "4", "requests.memory": "8Gi", "limits.memory": "24Gi",
                                      "pods": "50", "persistentvolumeclaims": "20", "requests.storage": "100Gi"}}
    assert limits["spec"] == {"limits": [{"type": "Container", "defaultRequest": {"cpu": "50m", "memory": "64Mi"},
                                          "default": {"memory": "1Gi"}}]}


def test_quota_and_limits_follow_settings_and_per_project_overrides(tmp_path):
    settings = tmp_path / "settings.yaml"
    settings.write_text(
        "quota: {requests.cpu: 2, requests.memory: 4Gi, pods: 20}\n"
        "limit_range: {defaultRequest.cpu: 100m, defaultRequest.memory: 128Mi}\n"
        "project_overrides:\n"
        "  iso: {quota: {pods: 200, limits.memory: 64Gi}, limit_range: {default.memory: 2Gi}}\n"
        "  free: {quota: null}\n")
    docs = render(tmp_path / "a", {}, settings_file=str(settings))
    assert of(docs, "ResourceQuota")[0]["spec"]["hard"] == {"requests.cpu": "2", "requests.memory": "4Gi",
                                                          "limits.memory": "64Gi", "pods": "200"}
    assert of(docs, "LimitRange")[0]["spec"]["limits"] == [
        {"type": "Container", "defaultRequest": {"cpu": "100m", "memory": "128Mi"}, "default": {"memory": "2Gi"}}]
    other = render(tmp_path / "b", {}, name="other", settings_file=str(settings))
    assert of(other, "ResourceQuota")[0]["spec"]["hard"] == {"requests.cpu": "2", "requests.memory": "4Gi", "pods": "20"}
    assert "default" not in of(other, "LimitRange")[0]["spec"]["limits"][0]
    free = render(tmp_path / "c", {}, name="free", settings_file=str(settings))
    assert of(free, "ResourceQuota") == [] and len(of(free, "LimitRange")) == 1
    # the environment wins over the file for the platform's map; the overrides still apply
    docs = render(tmp_path / "d", {"CMP_QUOTA": "pods=5,requests.cpu=1"}, settings_file=str(settings))
    assert of(docs, "ResourceQuota")[0]["spec"]["hard"] == {"requests.cpu": "1", "limits.memory": "64Gi", "pods": "200"}


def test_empty_settings_turn_quota_and_limits_off(tmp_path):
    docs = render(tmp_path / "a", {"CMP_QUOTA": ""})
    assert of(docs, "ResourceQuota") == [] and len(of(docs, "LimitRange")) == 1
    docs = render(tmp_path / "b", {"CMP_QUOTA": "", "CMP_LIMIT_RANGE": ""})
    assert of(docs, "ResourceQuota") == of(docs, "LimitRange") == []


def test_project_files_cannot_set_isolation():
    """Quota, limits and policies are platform settings: a project file naming them is refused."""
    for key in ("quota", "limit_range", "project_overrides", "network_policies"):
        problems = validate_text(f"{key}: {{}}\ndatabases: [{{name: d, type: redis, version: '7', port: 6379, "
                                 f"size: 1Gi}}]\n", "shop.yaml")
        assert [p.path for p in problems] == [key], key


def test_full_project_isolation_objects_validate(tmp_path):
    require_shared()
    for env in ({}, {"CMP_RESTRICT_EGRESS": "true"}):
        path = write_project(tmp_path, "full", FULL_PROJECT)
        docs = docs_of(render_file(str(path), settings=settings_for(env), env={}))
        isolation = [d for d in docs if d["kind"] in ("NetworkPolicy", "ResourceQuota", "LimitRange")]
        assert isolation and all_object_errors(isolation) == []
