"""Shared helpers of the render tests: paths, object validators, an independent integrity checker
and project-file builders.

Nothing here comes from cmp_plugin except the entry points under test: the integrity checker is
written from the Kubernetes / Argo / Traefik semantics, not from cmp_plugin.check.
"""

from __future__ import annotations

import functools
import json
import os
import re
from pathlib import Path

import pytest
import yaml

from cliutil import yaml_docs

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
SCHEMAS = SHARED / "schemas"
EXAMPLES = REPO / "examples" / "projects"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))
SEED_CHART = SHARED / "reference" / "seed-chart"
SEED_RENDER = SHARED / "tools" / "seed-render"

HASH_A = "3f786850e387550fdab836ed7e6dc881de23001b"
HASH_B = "89e6c98d92887913cadf06b2adb97f26cde4849b"

# Settings variants (environment of the sidecar): every branch the templates take on settings.
SETTINGS_VARIANTS: dict[str, dict[str, str]] = {
    "defaults": {},
    "traefik-v2": {"CMP_TRAEFIK_API_VERSION": "traefik.containo.us/v1alpha1"},
    "push-latest": {"CMP_PUSH_LATEST": "true"},
    "host-aliases": {"CMP_REGISTRY_HOST_ALIASES": "192.168.0.200=harbor.injunweb.com,fd00::10=registry.lan",
                     "CMP_REGISTRY": "harbor.injunweb.com:8443", "CMP_REGISTRY_PROJECT": "team/images"},
    "cert-resolver": {"CMP_INGRESS_CERT_RESOLVER": "letsencrypt", "CMP_INGRESS_ENTRY_POINTS": "web,websecure"},
    "no-tls": {"CMP_INGRESS_TLS": "false", "CMP_INGRESS_ENTRY_POINTS": "web"},
    "everything": {"CMP_TRAEFIK_API_VERSION": "traefik.containo.us/v1alpha1", "CMP_PUSH_LATEST": "1",
                   "CMP_REGISTRY_HOST_ALIASES": "10.0.0.5=registry.internal", "CMP_INGRESS_CERT_RESOLVER": "le",
                   "CMP_EVENTBUS_REPLICAS": "5", "CMP_VAULT_PREFIX": "secret/data/teams/{project}",
                   "CMP_WEBHOOK_HOST": "hooks.ci.example.org", "CMP_GITOPS_REPO": "acme/gitops",
                   "CMP_RESTRICT_EGRESS": "true", "CMP_INGRESS_NAMESPACE": "kube-system",
                   "CMP_QUOTA": "requests.cpu=1500m,pods=10", "CMP_LIMIT_RANGE": "defaultRequest.cpu=0.1"},
    "no-isolation": {"CMP_NETWORK_POLICIES": "false", "CMP_QUOTA": "", "CMP_LIMIT_RANGE": ""},
}


def require_shared() -> Path:
    """The shared directory next to the repository; skip (never fail) where it is not checked out."""
    if not SCHEMAS.is_dir():
        pytest.skip(f"shared reference data not found at {SHARED} (expected next to the repository)")
    return SHARED


def settings_for(env: dict[str, str]):
    from cmp_plugin.settings import load_settings

    return load_settings(env=dict(env))


# The objects of a multi-document YAML stream (YAML safe loader, C parser when available).
docs_of = yaml_docs


# --------------------------------------------------------------------------- project files


def app(name: str, *, owner: str = "acme", repo: str | None = None, branch: str = "main", hash: str | None = HASH_A,
        port: int = 8080, domains=(), secrets=(), build: dict | None = None, **git_extra) -> dict:
    out = {"name": name, "git": {"owner": owner, "repo": repo or name, "branch": branch, "hash": hash, **git_extra},
           "port": port}
    if domains:
        out["domains"] = list(domains)
    if secrets:
        out["secrets"] = list(secrets)
    if build is not None:
        out["build"] = build
    return out


def db(name: str, type: str, *, version: str = "1", port: int | None = None, size: str = "1Gi") -> dict:
    default = {"mysql": 3306, "postgres": 5432, "redis": 6379, "mongodb": 27017}[type]
    return {"name": name, "type": type, "version": version, "port": port or default, "size": size}


def project_text(apps=(), dbs=()) -> str:
    data = {}
    if apps:
        data["applications"] = list(apps)
    if dbs:
        data["databases"] = list(dbs)
    return yaml.safe_dump(data, sort_keys=False, width=1_000_000, allow_unicode=False)


def write_project(directory: Path, name: str, text: str | bytes) -> Path:
    path = Path(directory) / f"{name}.yaml"
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


# Every optional field the schema has, every database type, default and custom ports.
FULL_PROJECT = project_text(
    apps=[
        app("web", owner="Acme-Org", repo="web.site_v2", branch="feature/x.y_z-1", hash=HASH_A, port=3000,
            domains=["shop.acme.example", "www.shop.acme.example", "localhost"], secrets=["API_KEY", "_private", "db_url"],
            build={"context": "services/web", "dockerfile": "docker/Dockerfile.prod",
                   "args": {"NODE_ENV": "production", "QUOTE": "it's \"quoted\"", "EMPTY": ""}},
            type="github", pushedAt="2026-01-31T12:00:00.123Z"),
        app("api", hash=HASH_B, port=65535, domains=["api.acme.example"], build={}),
        app("worker", hash="", port=1),
        app("cron", hash=None, port=9000, secrets=["TOKEN"], domains=["cron.acme.example"]),
    ],
    dbs=[
        db("orders", "mysql", version="8.4"), db("legacy", "mysql", version="5.7", port=3307),
        db("catalog", "postgres", version="17", port=5433), db("reports", "postgres", version="16-alpine", size="1.5Ti"),
        db("cache", "redis", version="7.4", size="512Mi"), db("queue", "redis", version="7.4", port=6380),
        db("events", "mongodb", version="8.0", size="50G"), db("audit", "mongodb", version="7.0", port=27018),
    ],
)


# --------------------------------------------------------------------------- schema validation

UPSTREAM_GROUPS = ("argoproj.io", "traefik.io", "traefik.containo.us", "external-secrets.io", "secrets.hashicorp.com")
CORE_KINDS = {
    ("v1", "Secret"), ("v1", "Service"), ("v1", "ServiceAccount"),
    ("rbac.authorization.k8s.io/v1", "Role"), ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"),
    ("v1", "ConfigMap"), ("v1", "PersistentVolumeClaim"), ("batch/v1", "Job"), ("batch/v1", "CronJob"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"), ("policy/v1", "PodDisruptionBudget"),
    ("networking.k8s.io/v1", "NetworkPolicy"), ("v1", "ResourceQuota"), ("v1", "LimitRange"),
}
ROOT_KEYS = ["apiVersion", "kind", "metadata", "spec", "status"]


@functools.lru_cache(maxsize=None)
def upstream_validator(group: str, kind: str, version: str):
    """Draft 7 validator of one upstream schema file, root made strict (README: propertyNames)."""
    from jsonschema import Draft7Validator

    path = SCHEMAS / group / f"{kind.lower()}_{version}.json"
    if not path.is_file():
        raise AssertionError(f"no upstream schema for {group}/{version} {kind} ({path}); every kind must be covered")
    schema = json.loads(path.read_text("utf-8"))
    schema["propertyNames"] = {"enum": ROOT_KEYS}
    return Draft7Validator(schema)


def _format_errors(errors, prefix: str = "") -> list[str]:
    return [f"{prefix}{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:300]}"
            for e in sorted(errors, key=lambda e: list(map(str, e.absolute_path)))]


def upstream_errors(doc: dict) -> list[str]:
    group, _, version = doc["apiVersion"].rpartition("/")
    out = _format_errors(upstream_validator(group, doc["kind"], version).iter_errors(doc))
    if doc["kind"] == "Sensor":  # the trigger's Workflow is free-form in the Sensor schema
        for i, trigger in enumerate(doc.get("spec", {}).get("triggers", [])):
            resource = trigger.get("template", {}).get("k8s", {}).get("source", {}).get("resource")
            if resource is None:
                continue
            if resource.get("apiVersion") != "argoproj.io/v1alpha1" or resource.get("kind") != "Workflow":
                out.append(f"spec/triggers/{i}: embedded resource is not an argoproj.io/v1alpha1 Workflow")
                continue
            out += _format_errors(upstream_validator("argoproj.io", "Workflow", "v1alpha1").iter_errors(resource),
                                  f"spec/triggers/{i}/template/k8s/source/resource/")
    return out


@functools.lru_cache(maxsize=1)
def k8s_version() -> str:
    """The newest Kubernetes version kubernetes-validate ships (at least 1.30)."""
    import k8s_schema

    version = k8s_schema.latest_version()
    major, minor = (int(p) for p in version.split(".")[:2])
    assert (major, minor) >= (1, 30), f"kubernetes-validate ships only {version}; need >= 1.30"
    return version


def k8s_errors(doc: dict) -> list[str]:
    """kubernetes-validate's validate(), strict mode, newest Kubernetes version it ships."""
    import k8s_schema

    try:
        k8s_schema.validate(doc, k8s_version(), strict=True)
    except k8s_schema.ValidationError as exc:
        return [f"{'/'.join(map(str, exc.path)) or '<root>'}: {exc.message[:300]}"]
    except k8s_schema.SchemaNotFoundError as exc:
        raise AssertionError(f"kubernetes-validate has no schema: {exc.message}") from None
    return []


def object_errors(doc: dict) -> list[str]:
    """Errors of one rendered object against the schema that covers its kind; unknown kinds fail."""
    api, kind = doc.get("apiVersion", ""), doc.get("kind", "")
    group = api.rpartition("/")[0]
    if group in UPSTREAM_GROUPS:
        return upstream_errors(doc)
    if (api, kind) in CORE_KINDS:
        return k8s_errors(doc)
    raise AssertionError(f"{api} {kind} is covered by neither the upstream schemas nor kubernetes-validate")


def all_object_errors(docs: list[dict]) -> list[str]:
    out = []
    for doc in docs:
        label = f"{doc.get('kind')} {doc.get('metadata', {}).get('name')!r}"
        out += [f"{label}: {e}" for e in object_errors(doc)]
    return out


# --------------------------------------------------------------------------- names

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
# Kinds whose name becomes a DNS label (Service) or a label value / Service name in a controller.
LABEL_NAMED = {"Service", "EventBus", "EventSource", "Sensor"}


def name_problems(doc: dict) -> list[str]:
    meta, kind = doc["metadata"], doc["kind"]
    name, out = meta.get("name", ""), []
    if not (DNS_SUBDOMAIN.fullmatch(name) and len(name) <= 253):
        out.append(f"{kind} name {name!r} is not an RFC 1123 subdomain")
    if kind in LABEL_NAMED and not (DNS_LABEL.fullmatch(name) and len(name) <= 63):
        out.append(f"{kind} name {name!r} is not an RFC 1123 label")
    if kind in ("StatefulSet", "CronJob") and len(name) > 52:
        out.append(f"{kind} name {name!r} leaves no room for the suffix its controller appends (63-character labels)")
    if kind == "Job" and len(name) > 63:
        out.append(f"Job name {name!r} is longer than the job-name label value may be")
    ns = meta.get("namespace", "")
    if not (DNS_LABEL.fullmatch(ns) and len(ns) <= 63):
        out.append(f"{kind} {name!r} namespace {ns!r} is not an RFC 1123 label")
    for key, value in (meta.get("labels") or {}).items():
        if not isinstance(value, str) or len(value) > 63 or not LABEL_VALUE.fullmatch(value):
            out.append(f"{kind} {name!r} label {key}={value!r} is not a valid label value")
    if kind == "Secret":
        for key in list(doc.get("stringData") or {}) + list(doc.get("data") or {}):
            if not re.fullmatch(r"[-._a-zA-Z0-9]+", key) or len(key) > 253:
                out.append(f"Secret {name!r} key {key!r} is not a valid Secret key")
    spec = doc.get("spec") or {}
    if kind in ("Deployment", "StatefulSet"):
        pod = spec["template"]["spec"]
        selectors = [spec["selector"]["matchLabels"], spec["template"]["metadata"].get("labels") or {}]
        names = [c["name"] for c in pod["containers"]] + [v["name"] for v in pod.get("volumes") or []]
        names += [t["metadata"]["name"] for t in spec.get("volumeClaimTemplates") or []]
        names += [p["name"] for c in pod["containers"] for p in c.get("ports") or [] if "name" in p]
    elif kind in ("Job", "CronJob"):
        template = pod_template(doc)
        pod = template["spec"]
        selectors = [(template.get("metadata") or {}).get("labels") or {}]
        names = [c["name"] for c in pod["containers"]] + [v["name"] for v in pod.get("volumes") or []]
    elif kind == "PodDisruptionBudget":
        selectors, names = [(spec.get("selector") or {}).get("matchLabels") or {}], []
    elif kind == "Service":
        selectors, names = [spec.get("selector") or {}], [p["name"] for p in spec["ports"] if "name" in p]
    else:
        selectors, names = [], []
    for selector in selectors:
        for key, value in selector.items():
            if not isinstance(value, str) or len(value) > 63 or not LABEL_VALUE.fullmatch(value):
                out.append(f"{kind} {name!r} selector/label {key}={value!r} is not a valid label value")
    for sub in names:
        if not (isinstance(sub, str) and DNS_LABEL.fullmatch(sub) and len(sub) <= 63):
            out.append(f"{kind} {name!r} inner name {sub!r} is not an RFC 1123 label")
    return out


# --------------------------------------------------------------------------- integrity (independent checker)

ARGO_EVENTS_SERVICE_SUFFIX = "-eventsource-svc"  # Argo Events: Service "<eventsource>-eventsource-svc"


POD_OWNERS = ("Deployment", "StatefulSet", "Job", "CronJob")


def pod_template(doc: dict) -> dict:
    """The pod template of a workload: a CronJob's is inside its jobTemplate."""
    spec = doc["spec"]
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]


def operator_secret(doc: dict) -> dict | None:
    """The Secret an External Secrets ExternalSecret or a Vault Secrets Operator VaultStaticSecret
    makes its operator write, as the operators' documentation describes it (keys only)."""
    spec = doc.get("spec") or {}
    if doc.get("kind") == "ExternalSecret":
        target = spec.get("target") or {}
        template = target.get("template") or {}
        keys = set(template.get("data") or {})
        if not keys or template.get("mergePolicy") == "Merge":
            keys |= {d["secretKey"] for d in spec.get("data") or []}
        return {"kind": "Secret", "metadata": {"name": target.get("name") or doc["metadata"]["name"]},
                "type": template.get("type", "Opaque"), "stringData": dict.fromkeys(keys, "")}
    if doc.get("kind") == "VaultStaticSecret":
        destination = spec.get("destination") or {}
        transformation = destination.get("transformation") or {}
        keys = set(transformation.get("templates") or {})
        for pattern in transformation.get("includes") or []:
            match = re.fullmatch(r"\^((?:\\.|[A-Za-z0-9_])+)\$", pattern)  # only exact names are readable
            assert match, f"VaultStaticSecret include {pattern!r} is not an exact key"
            keys.add(re.sub(r"\\(.)", r"\1", match.group(1)))
        return {"kind": "Secret", "metadata": {"name": destination.get("name")}, "type": destination.get("type", "Opaque"),
                "stringData": dict.fromkeys(keys, "")}
    return None


def integrity_problems(docs: list[dict], project: dict | None = None) -> list[str]:
    """Referential integrity of one project's output, from what each controller will look up.

    project: the project file's data. Without it every Deployment, Job and CronJob must run an image
    a build in the output pushes; with it, an application's prebuilt `image:` is allowed too, and a
    built image's tag must be one of the project's git.hash values.
    """
    out: list[str] = []
    index: dict[tuple[str, str], dict] = {}
    namespaces = set()
    for doc in docs:
        meta = doc.get("metadata") or {}
        key = (doc.get("kind"), meta.get("name"))
        if not key[0] or not key[1]:
            out.append(f"object without kind or metadata.name: {str(doc)[:80]}")
            continue
        if key in index:
            out.append(f"{key[0]} {key[1]!r} defined twice")
        index[key] = doc
        namespaces.add(meta.get("namespace"))
        produced = operator_secret(doc)
        if produced is not None:
            if ("Secret", produced["metadata"]["name"]) in index:
                out.append(f"Secret {produced['metadata']['name']!r} is both rendered and written by {doc['kind']}")
            index[("Secret", produced["metadata"]["name"])] = produced
    if len(namespaces) > 1:
        out.append(f"objects in several namespaces: {sorted(map(str, namespaces))}")
    if out:
        return out

    def of(kind):
        return [d for (k, _), d in index.items() if k == kind]

    # Services, including the one Argo Events creates for each EventSource with a service block.
    services: dict[str, dict] = {}
    for svc in of("Service"):
        services[svc["metadata"]["name"]] = {"ports": {p["port"] for p in svc["spec"]["ports"]}, "doc": svc}
    for es in of("EventSource"):
        if es["spec"].get("service"):
            implicit = es["metadata"]["name"] + ARGO_EVENTS_SERVICE_SUFFIX
            if implicit in services:
                out.append(f"Service {implicit!r} is also the Service Argo Events creates for EventSource "
                           f"{es['metadata']['name']!r}")
            services[implicit] = {"ports": {p["port"] for p in es["spec"]["service"]["ports"]}, "doc": es}

    def need(kind, name, where):
        if (kind, name) not in index:
            out.append(f"{where}: refers to {kind} {name!r}, which is not defined")
            return None
        return index[(kind, name)]

    def need_key(secret_name, key, where):
        secret = need("Secret", secret_name, where)
        if secret is not None:
            keys = set(secret.get("data") or {}) | set(secret.get("stringData") or {})
            if key not in keys:
                out.append(f"{where}: refers to key {key!r} of Secret {secret_name!r}, which has keys {sorted(keys)}")

    def containers_refs(containers, where, volume_names):
        for c in containers:
            cw = f"{where} container {c.get('name')!r}"
            for env in c.get("env") or []:
                ref = (env.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    if ref.get("optional"):
                        out.append(f"{cw}: optional secretKeyRef {ref} hides a missing Secret")
                    need_key(ref["name"], ref["key"], f"{cw} env {env['name']}")
            for env_from in c.get("envFrom") or []:
                ref = env_from.get("secretRef")
                if ref:
                    need("Secret", ref["name"], f"{cw} envFrom")
            for mount in c.get("volumeMounts") or []:
                if mount["name"] not in volume_names:
                    out.append(f"{cw}: volumeMount {mount['name']!r} has no volume")

    def volumes_refs(volumes, where):
        for vol in volumes or []:
            vw = f"{where} volume {vol['name']!r}"
            secret = vol.get("secret")
            if secret:
                for item in secret.get("items") or []:
                    need_key(secret["secretName"], item["key"], vw)
                if not secret.get("items"):
                    need("Secret", secret["secretName"], vw)
            config_map = vol.get("configMap")
            if config_map:
                if config_map.get("optional"):
                    out.append(f"{vw}: optional configMap {config_map['name']!r} hides a missing ConfigMap")
                cm = need("ConfigMap", config_map["name"], vw)
                if cm is not None:
                    keys = set(cm.get("data") or {}) | set(cm.get("binaryData") or {})
                    if not keys:
                        out.append(f"{vw}: ConfigMap {config_map['name']!r} is empty")
                    for item in config_map.get("items") or []:
                        if item["key"] not in keys:
                            out.append(f"{vw}: refers to key {item['key']!r} of ConfigMap {config_map['name']!r}, "
                                       f"which has keys {sorted(keys)}")
            claim = vol.get("persistentVolumeClaim")
            if claim:
                need("PersistentVolumeClaim", claim["claimName"], vw)

    def pod_refs(doc):
        where = f"{doc['kind']} {doc['metadata']['name']!r}"
        spec = doc["spec"]
        template = pod_template(doc)
        pod = template["spec"]
        labels = (template.get("metadata") or {}).get("labels") or {}
        if doc["kind"] in ("Deployment", "StatefulSet"):
            for k, v in spec["selector"]["matchLabels"].items():
                if labels.get(k) != v:
                    out.append(f"{where}: selector {k}={v} does not select its own pod template")
        elif pod.get("restartPolicy") not in ("Never", "OnFailure"):  # the API server refuses Always for a Job
            out.append(f"{where}: a Job's pods need restartPolicy Never or OnFailure, not {pod.get('restartPolicy')!r}")
        vols = {v["name"] for v in pod.get("volumes") or []}
        vols |= {t["metadata"]["name"] for t in spec.get("volumeClaimTemplates") or []}
        containers_refs(pod["containers"], where, vols)
        volumes_refs(pod.get("volumes"), where)
        for ips in pod.get("imagePullSecrets") or []:
            need("Secret", ips["name"], f"{where} imagePullSecrets")
        if pod.get("serviceAccountName"):
            need("ServiceAccount", pod["serviceAccountName"], where)

    workloads = [d for kind in POD_OWNERS for d in of(kind)]
    for w in workloads:
        pod_refs(w)

    def pod_labels(w):
        return (pod_template(w).get("metadata") or {}).get("labels") or {}

    seen_labels: dict[str, str] = {}
    for w in workloads:  # Services, PodDisruptionBudgets and anti-affinity tell workloads apart by pod labels
        key = json.dumps(pod_labels(w), sort_keys=True)
        label = f"{w['kind']} {w['metadata']['name']!r}"
        if key in seen_labels:
            out.append(f"{label}: its pods carry the same labels as those of {seen_labels[key]} ({key})")
        seen_labels.setdefault(key, label)

    def pods_selected_by(selector):
        return [w for w in workloads
                if selector and all(pod_labels(w).get(k) == v for k, v in selector.items())]

    for svc in of("Service"):
        where = f"Service {svc['metadata']['name']!r}"
        selected = pods_selected_by(svc["spec"].get("selector"))
        if len(selected) != 1:
            out.append(f"{where}: selects {len(selected)} workloads, expected exactly 1")
            continue
        if selected[0]["kind"] not in ("Deployment", "StatefulSet"):
            out.append(f"{where}: selects the pods of {selected[0]['kind']} {selected[0]['metadata']['name']!r}, "
                       f"which serve nothing")
            continue
        container_ports = {p["containerPort"] for c in selected[0]["spec"]["template"]["spec"]["containers"]
                           for p in c.get("ports") or []}
        for port in svc["spec"]["ports"]:
            if port.get("targetPort", port["port"]) not in container_ports:
                out.append(f"{where}: targetPort {port.get('targetPort')} is not a containerPort of "
                           f"{selected[0]['metadata']['name']!r} {sorted(container_ports)}")

    # HorizontalPodAutoscaler: its target is a Deployment of the output that leaves replicas to it, and
    # whose every container requests CPU (utilization is a percentage of the request)
    targets: dict[str, str] = {}
    for hpa in of("HorizontalPodAutoscaler"):
        where = f"HorizontalPodAutoscaler {hpa['metadata']['name']!r}"
        spec, ref = hpa["spec"], hpa["spec"]["scaleTargetRef"]
        if (ref.get("apiVersion"), ref.get("kind")) != ("apps/v1", "Deployment"):
            out.append(f"{where}: scaleTargetRef {ref} is not an apps/v1 Deployment")
            continue
        if ref["name"] in targets:
            out.append(f"{where}: Deployment {ref['name']!r} is also scaled by {targets[ref['name']]}")
        targets[ref["name"]] = where
        dep = need("Deployment", ref["name"], f"{where} scaleTargetRef")
        if spec.get("minReplicas", 1) > spec["maxReplicas"]:
            out.append(f"{where}: minReplicas {spec.get('minReplicas')} > maxReplicas {spec['maxReplicas']}")
        if dep is None:
            continue
        if "replicas" in dep["spec"]:
            out.append(f"{where}: Deployment {ref['name']!r} sets replicas, which Argo CD would reset "
                       f"against the autoscaler on every sync")
        for metric in spec.get("metrics") or []:
            name = (metric.get("resource") or {}).get("name")
            if metric.get("type") == "Resource" and (metric["resource"]["target"].get("type") == "Utilization"):
                for c in pod_template(dep)["spec"]["containers"]:
                    if name not in ((c.get("resources") or {}).get("requests") or {}):
                        out.append(f"{where}: container {c['name']!r} of {ref['name']!r} requests no {name}; "
                                   f"utilization cannot be computed")

    for pdb in of("PodDisruptionBudget"):
        where = f"PodDisruptionBudget {pdb['metadata']['name']!r}"
        selector = pdb["spec"].get("selector") or {}
        if set(selector) - {"matchLabels"}:
            out.append(f"{where}: selector uses {sorted(selector)}; only matchLabels is checked here")
        selected = pods_selected_by(selector.get("matchLabels"))
        if len(selected) != 1:
            out.append(f"{where}: selects {len(selected)} workloads, expected exactly 1")
        elif selected[0]["kind"] not in ("Deployment", "StatefulSet"):
            out.append(f"{where}: selects the pods of {selected[0]['kind']} {selected[0]['metadata']['name']!r}")

    # PersistentVolumeClaims (ReadWriteOnce): mounted by one workload, which never runs two pods at once
    claimed_by: dict[str, str] = {}
    for w in workloads:
        label = f"{w['kind']} {w['metadata']['name']!r}"
        for vol in pod_template(w)["spec"].get("volumes") or []:
            claim = (vol.get("persistentVolumeClaim") or {}).get("claimName")
            if claim is None:
                continue
            if claim in claimed_by:
                out.append(f"{label}: PersistentVolumeClaim {claim!r} is also mounted by {claimed_by[claim]}")
            claimed_by.setdefault(claim, label)
            pvc = index.get(("PersistentVolumeClaim", claim))
            if pvc is None or pvc["spec"].get("accessModes") != ["ReadWriteOnce"]:
                continue
            if w["kind"] == "CronJob" and w["spec"].get("concurrencyPolicy") != "Forbid":
                out.append(f"{label}: mounts ReadWriteOnce claim {claim!r} but its runs may overlap "
                           f"(concurrencyPolicy {w['spec'].get('concurrencyPolicy', 'Allow')!r})")
            if w["kind"] != "Deployment":
                continue
            if w["metadata"]["name"] in targets or w["spec"].get("replicas", 1) > 1:
                out.append(f"{label}: mounts ReadWriteOnce claim {claim!r} but may run more than one pod")
            if (w["spec"].get("strategy") or {}).get("type", "RollingUpdate") != "Recreate":
                out.append(f"{label}: mounts ReadWriteOnce claim {claim!r} with a rolling update (the new pod "
                           f"may wait forever for the volume)")

    for sts in of("StatefulSet"):
        where = f"StatefulSet {sts['metadata']['name']!r}"
        svc = need("Service", sts["spec"]["serviceName"], f"{where} serviceName")
        if svc is not None:
            if svc["spec"].get("clusterIP") != "None":
                out.append(f"{where}: governing Service {svc['metadata']['name']!r} is not headless")
            if pods_selected_by(svc["spec"].get("selector")) != [sts]:
                out.append(f"{where}: governing Service does not select this StatefulSet's pods")

    for route in of("IngressRoute"):
        where = f"IngressRoute {route['metadata']['name']!r}"
        for r in route["spec"]["routes"]:
            for s in r["services"]:
                if s.get("kind", "Service") != "Service":
                    continue
                target = services.get(s["name"])
                if target is None:
                    out.append(f"{where}: refers to Service {s['name']!r}, which is not defined")
                elif s["port"] not in target["ports"]:
                    out.append(f"{where}: port {s['port']} is not a port of Service {s['name']!r} {sorted(target['ports'])}")

    for es in of("EventSource"):
        where = f"EventSource {es['metadata']['name']!r}"
        spec = es["spec"]
        need("EventBus", spec.get("eventBusName", "default"), where)
        if (spec.get("template") or {}).get("serviceAccountName"):
            need("ServiceAccount", spec["template"]["serviceAccountName"], where)
        for event, gh in (spec.get("github") or {}).items():
            for field in ("apiToken", "webhookSecret"):
                if gh.get(field):
                    need_key(gh[field]["name"], gh[field]["key"], f"{where} github.{event}.{field}")
            port = int(gh["webhook"]["port"])
            if port not in {p.get("targetPort", p["port"]) for p in spec["service"]["ports"]}:
                out.append(f"{where}: webhook port {port} is not exposed by its Service")
        # Argo Events serves every entry of one port from one HTTP server: one route per endpoint
        endpoints = [(gh["webhook"]["port"], gh["webhook"]["endpoint"]) for gh in (spec.get("github") or {}).values()]
        for dup in {e for e in endpoints if endpoints.count(e) > 1}:
            out.append(f"{where}: endpoint {dup[1]!r} on port {dup[0]} is served by more than one entry")

    # a webhook route's path must be an endpoint of the EventSource behind the Service it routes to
    for route in of("IngressRoute"):
        for r in route["spec"]["routes"]:
            path = re.search(r"Path\(`([^`]*)`\)", r["match"])
            for s in r["services"]:
                target = services.get(s["name"], {}).get("doc")
                if target is None or target["kind"] != "EventSource":
                    continue
                served = {(gh["webhook"]["endpoint"], int(gh["webhook"]["port"]))
                          for gh in (target["spec"].get("github") or {}).values()}
                ports = {p["port"]: p.get("targetPort", p["port"]) for p in target["spec"]["service"]["ports"]}
                if path is None or (path.group(1), ports.get(s["port"])) not in served:
                    out.append(f"IngressRoute {route['metadata']['name']!r}: {r['match']!r} reaches no webhook "
                               f"endpoint of EventSource {target['metadata']['name']!r}")

    for sensor in of("Sensor"):
        where = f"Sensor {sensor['metadata']['name']!r}"
        spec = sensor["spec"]
        need("EventBus", spec.get("eventBusName", "default"), where)
        if (spec.get("template") or {}).get("serviceAccountName"):
            need("ServiceAccount", spec["template"]["serviceAccountName"], where)
        dep_names = set()
        for dep in spec["dependencies"]:
            dep_names.add(dep["name"])
            es = need("EventSource", dep["eventSourceName"], f"{where} dependency {dep['name']!r}")
            if es is not None:
                events = {name for section in es["spec"].values() if isinstance(section, dict) for name in section
                          if isinstance(section[name], dict)} - {"template", "service"}
                if dep["eventName"] not in events:
                    out.append(f"{where}: event {dep['eventName']!r} is not defined by EventSource {dep['eventSourceName']!r}")
        for trigger in spec["triggers"]:
            # a trigger without conditions fires only once every dependency of the Sensor has an event
            conditions = trigger["template"].get("conditions")
            names = set(re.findall(r"[A-Za-z0-9_-]+", conditions or ""))
            if conditions is None and len(dep_names) > 1:
                out.append(f"{where}: trigger {trigger['template']['name']!r} has no conditions, so it waits "
                           f"for all of {sorted(dep_names)}")
            if names - dep_names:
                out.append(f"{where}: trigger {trigger['template']['name']!r} conditions name unknown "
                           f"dependencies {sorted(names - dep_names)}")
            k8s = trigger["template"].get("k8s")
            if not k8s:
                continue
            resource = k8s["source"]["resource"]
            if resource["metadata"].get("namespace", sensor["metadata"]["namespace"]) != sensor["metadata"]["namespace"]:
                out.append(f"{where}: trigger creates a Workflow in another namespace")
            ref = (resource.get("spec") or {}).get("workflowTemplateRef")
            if ref:
                wt = need("WorkflowTemplate", ref["name"], f"{where} trigger")
                if wt is not None:
                    declared = [p["name"] for p in wt["spec"].get("arguments", {}).get("parameters", [])]
                    passed = [p["name"] for p in resource["spec"].get("arguments", {}).get("parameters", [])]
                    if sorted(declared) != sorted(passed):
                        out.append(f"{where}: passes parameters {passed}, template declares {declared}")
            for param in k8s.get("parameters") or []:
                if param["src"]["dependencyName"] not in (names if conditions is not None else dep_names):
                    out.append(f"{where}: parameter from dependency {param['src']['dependencyName']!r}, "
                               f"which is not among the trigger's")
                m = re.fullmatch(r"spec\.arguments\.parameters\.(\d+)\.value", param["dest"])
                if not m or int(m.group(1)) >= len(resource["spec"]["arguments"]["parameters"]):
                    out.append(f"{where}: parameter dest {param['dest']!r} points at no Workflow argument")

    for wt in of("WorkflowTemplate"):
        where = f"WorkflowTemplate {wt['metadata']['name']!r}"
        spec = wt["spec"]
        if spec.get("serviceAccountName"):
            need("ServiceAccount", spec["serviceAccountName"], where)
        volumes_refs(spec.get("volumes"), where)
        names = {t["name"] for t in spec["templates"]}
        for entry in ("entrypoint", "onExit"):
            if spec.get(entry) and spec[entry] not in names:
                out.append(f"{where}: {entry} {spec[entry]!r} is not a template")
        vols = {v["name"] for v in spec.get("volumes") or []}
        for t in spec["templates"]:
            tw = f"{where} template {t['name']!r}"
            calls = [task["template"] for task in (t.get("dag") or {}).get("tasks", [])]
            calls += [step["template"] for group in t.get("steps") or [] for step in group]
            for call in calls:
                if call not in names:
                    out.append(f"{tw}: calls undefined template {call!r}")
            if t.get("container"):
                containers_refs([{"name": t["name"], **t["container"]}], tw, vols)

    for rb in of("RoleBinding"):
        where = f"RoleBinding {rb['metadata']['name']!r}"
        need(rb["roleRef"]["kind"], rb["roleRef"]["name"], where)
        for subject in rb.get("subjects") or []:
            if subject["kind"] == "ServiceAccount":
                need("ServiceAccount", subject["name"], where)

    # the Sensor's identity must be allowed to create the Workflow it triggers
    for sensor in of("Sensor"):
        sa = (sensor["spec"].get("template") or {}).get("serviceAccountName")
        if sa and not _may(index, sa, "argoproj.io", "workflows", "create"):
            out.append(f"Sensor {sensor['metadata']['name']!r}: ServiceAccount {sa!r} may not create workflows")

    # Deployments, Jobs and CronJobs pull exactly what the build pushes, or a prebuilt image the
    # project file names; a built image is tagged with a commit (one of the project's hashes when known)
    pushed = set()
    for wt in of("WorkflowTemplate"):
        for t in wt["spec"]["templates"]:
            for arg in (t.get("container") or {}).get("args") or []:
                if isinstance(arg, str) and arg.startswith("--destination=") and arg.endswith(":{{inputs.parameters.sha}}"):
                    pushed.add(arg[len("--destination="):].rsplit(":", 1)[0])
    apps = (project or {}).get("applications") or []
    prebuilt = {a["image"] for a in apps if a.get("image")}
    hashes = {(a.get("git") or {}).get("hash") for a in apps if a.get("git")} - {None, ""}
    for w in workloads:
        if w["kind"] == "StatefulSet":
            continue  # databases run the engines' official images
        # a database's backup (CronJob <p>-<db>-backup) runs exactly its database's image
        name = w["metadata"]["name"]
        database = index.get(("StatefulSet", name[:-len("-backup")] + "-db")) if name.endswith("-backup") else None
        database_images = {c["image"] for c in pod_template(database)["spec"]["containers"]} if database else set()
        for c in pod_template(w)["spec"]["containers"]:
            if c["image"] in prebuilt or (w["kind"] == "CronJob" and c["image"] in database_images):
                continue
            repo_, _, tag = c["image"].rpartition(":")
            tag_ok = tag in hashes if project is not None else re.fullmatch(r"[0-9a-f]{40}", tag)
            if repo_ not in pushed or not tag_ok:
                out.append(f"{w['kind']} {w['metadata']['name']!r}: image {c['image']!r} is neither one a build "
                           f"pushes nor a prebuilt image of the project file")
    return out


def _may(index, service_account: str, group: str, resource: str, verb: str) -> bool:
    for (kind, _), rb in index.items():
        if kind != "RoleBinding":
            continue
        if not any(s["kind"] == "ServiceAccount" and s["name"] == service_account for s in rb.get("subjects") or []):
            continue
        role = index.get((rb["roleRef"]["kind"], rb["roleRef"]["name"]))
        for rule in (role or {}).get("rules") or []:
            if group in rule.get("apiGroups", []) and resource in rule.get("resources", []) and verb in rule.get("verbs", []):
                return True
    return False


# --------------------------------------------------------------------------- pod security

# The official database images' non-root user and group, from their Dockerfiles (docs/applications.md):
# docker-library/postgres (Debian 999:999, Alpine 70:70), docker-library/mysql (999:999),
# redis/docker-library-redis (Debian 999:999, Alpine 999 with group 1000), docker-library/mongo (999:999).
DB_IDS = {"postgres": (999, 999), "mysql": (999, 999), "redis": (999, 999), "mongodb": (999, 999)}
DB_IDS_ALPINE = {"postgres": (70, 70), "redis": (999, 1000)}
WRITABLE_TMP = {"name": "tmp", "mountPath": "/tmp"}


def _pod_expectations(project: str, data: dict) -> dict:
    """(kind, name) -> what the pod promises: ids, root, readOnlyRootFilesystem; from the project file."""
    out = {}
    for app in data.get("applications") or []:
        a = app["name"]
        read_only = app.get("readOnlyRootFilesystem") is True

        def ids(own):
            user = own.get("runAsUser", app.get("runAsUser"))
            return {"runAsUser": user, "runAsGroup": own.get("runAsGroup", app.get("runAsGroup")),
                    "fsGroup": own.get("fsGroup", app.get("fsGroup")),
                    "root": app.get("runAsRoot") is True and user is None, "read_only": read_only}

        out[("Deployment", f"{a}-app")] = ids({})
        for p in app.get("processes") or []:
            out[("Deployment", f"{a}-{p['name']}")] = ids(p)
        for j in app.get("jobs") or []:
            out[("Job" if j.get("before") == "deploy" else "CronJob", f"{a}-{j['name']}")] = ids({})
    for db in data.get("databases") or []:
        uid, gid = (DB_IDS_ALPINE if "alpine" in db["version"] else {}).get(db["type"]) or DB_IDS[db["type"]]
        out[("StatefulSet", f"{project}-{db['name']}-db")] = {"runAsUser": uid, "runAsGroup": gid, "fsGroup": gid,
                                                              "root": False, "read_only": False}
        if db.get("backup"):  # the dump runs as the database's own user
            out[("CronJob", f"{project}-{db['name']}-backup")] = out[("StatefulSet", f"{project}-{db['name']}-db")]
    return out


def security_problems(docs: list[dict], project: str | None = None, data: dict | None = None) -> list[str]:
    """Every pod of the output is hardened (docs/applications.md "Security"): no service account token,
    seccomp RuntimeDefault, no privilege escalation, every capability dropped, not root unless the
    project says runAsRoot. With the project file: the exact user, group, fsGroup and read-only root."""
    out: list[str] = []
    expected = _pod_expectations(project, data) if data is not None else None
    for w in (d for d in docs if d["kind"] in POD_OWNERS):
        where = f"{w['kind']} {w['metadata']['name']!r}"
        pod = pod_template(w)["spec"]
        sc = pod.get("securityContext") or {}
        if pod.get("automountServiceAccountToken") is not False:
            out.append(f"{where}: mounts a service account token")
        if pod.get("serviceAccountName") or pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"):
            out.append(f"{where}: a service account or host namespace")
        if sc.get("seccompProfile") != {"type": "RuntimeDefault"}:
            out.append(f"{where}: seccompProfile {sc.get('seccompProfile')}")
        if not isinstance(sc.get("runAsNonRoot"), bool):
            out.append(f"{where}: runAsNonRoot is not set")
        if sc.get("runAsUser") == 0 or (sc.get("runAsNonRoot") is False and "runAsUser" in sc):
            out.append(f"{where}: runAsUser {sc.get('runAsUser')} with runAsNonRoot {sc.get('runAsNonRoot')}")
        if w["kind"] == "StatefulSet" and sc.get("runAsNonRoot") is not True:
            out.append(f"{where}: a database may run as root")
        if ("fsGroup" in sc) != (sc.get("fsGroupChangePolicy") == "OnRootMismatch"):
            out.append(f"{where}: fsGroup {sc.get('fsGroup')} with fsGroupChangePolicy {sc.get('fsGroupChangePolicy')}")
        tmp_volume = [v for v in pod.get("volumes") or [] if v["name"] == "tmp"]
        containers = pod["containers"] + (pod.get("initContainers") or [])
        read_only = set()
        for c in containers:
            cw = f"{where} container {c['name']!r}"
            csc = c.get("securityContext") or {}
            if csc.get("allowPrivilegeEscalation") is not False:
                out.append(f"{cw}: allowPrivilegeEscalation {csc.get('allowPrivilegeEscalation')}")
            if csc.get("capabilities") != {"drop": ["ALL"]}:
                out.append(f"{cw}: capabilities {csc.get('capabilities')}")
            if set(csc) - {"allowPrivilegeEscalation", "capabilities", "readOnlyRootFilesystem"}:
                out.append(f"{cw}: overrides the pod's securityContext with {sorted(csc)}")
            if csc.get("readOnlyRootFilesystem") is True:
                read_only.add(c["name"])
                if WRITABLE_TMP not in (c.get("volumeMounts") or []) or tmp_volume != [{"name": "tmp", "emptyDir": {}}]:
                    out.append(f"{cw}: a read-only root filesystem without an emptyDir at /tmp")
            elif "readOnlyRootFilesystem" in csc:
                out.append(f"{cw}: readOnlyRootFilesystem {csc['readOnlyRootFilesystem']} (rendered only when true)")
        if read_only and read_only != {c["name"] for c in containers}:
            out.append(f"{where}: only some containers have a read-only root filesystem")
        if expected is None:
            continue
        want = expected.get((w["kind"], w["metadata"]["name"]))
        if want is None:
            out.append(f"{where}: no application, process, job or database of the project file runs this pod")
            continue
        got = {k: sc.get(k) for k in ("runAsUser", "runAsGroup", "fsGroup")}
        if got != {k: want[k] for k in got}:
            out.append(f"{where}: ids {got}, expected {({k: want[k] for k in got})}")
        if sc.get("runAsNonRoot") is not (not want["root"]):
            out.append(f"{where}: runAsNonRoot {sc.get('runAsNonRoot')}, runAsRoot {want['root']}")
        if bool(read_only) != want["read_only"] or bool(tmp_volume) != want["read_only"]:
            out.append(f"{where}: read-only root {sorted(read_only)}, /tmp {tmp_volume}, expected {want['read_only']}")
    return out


def clean_env(**extra) -> dict:
    """The test process's environment without platform settings or Vault variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CMP_", "VAULT_", "AVP_", "ARGOCD_"))}
    env.update(extra)
    return env
