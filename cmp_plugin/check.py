"""Stage 5, check: refuse output that Argo CD would misapply, before anything is printed.

Every object has apiVersion, kind and metadata.name; no two objects share an identity; every
Secret, Service, ServiceAccount, Role, EventBus, EventSource and WorkflowTemplate that one
object refers to is defined in the same output (and every secretKeyRef key exists); and no
Vault placeholder is left where it must not be.
"""

from __future__ import annotations

from cmp_plugin.problems import Problem, format_path, run_problem
from cmp_plugin.secrets.grammar import has_placeholder, vault_paths

_OPERATOR_KINDS = ("ExternalSecret", "VaultStaticSecret")


def _identity(doc: dict) -> tuple:
    group = doc["apiVersion"].rpartition("/")[0]
    return (group, doc["kind"], doc["metadata"].get("namespace", ""), doc["metadata"]["name"])


# Keys under which an object may refer to another (see _references).
_REFERENCE_KEYS = frozenset((
    "secretKeyRef", "secretRef", "secret", "configMap", "persistentVolumeClaim", "imagePullSecrets",
    "apiToken", "webhookSecret", "serviceAccountName", "eventBusName", "eventSourceName", "workflowTemplateRef",
))


def _scan(doc: dict) -> tuple[list, list]:
    """One walk of an object: (path in spec, key, value) of every entry of its spec under a
    reference key, and (path, text) of every string that holds an inline placeholder, complete or
    not, as secrets.grammar reads them (keys and list items included; a key's path is its
    mapping's), both depth first in document order."""
    refs: list = []
    found: list = []
    for key, item in doc.items():
        if isinstance(key, str) and "path:" in key and has_placeholder(key, False):
            found.append(((), key))
        if isinstance(item, str):
            if "path:" in item and has_placeholder(item, False):
                found.append(((key,), item))
        elif isinstance(item, (dict, list)):
            _walk(item, [key], refs if key == "spec" else None, found)
    return refs, found


def _walk(value, path: list, refs: list | None, found: list) -> None:
    mapping = isinstance(value, dict)
    for key, item in value.items() if mapping else enumerate(value):
        if mapping:
            if refs is not None and key in _REFERENCE_KEYS:
                refs.append((tuple(path[1:]), key, item))
            if isinstance(key, str) and "path:" in key and has_placeholder(key, False):
                found.append((tuple(path), key))
        if isinstance(item, str):
            if "path:" in item and has_placeholder(item, False):
                found.append((tuple(path) + (key,), item))
        elif isinstance(item, (dict, list)):
            path.append(key)
            _walk(item, path, refs, found)
            path.pop()


def _references(doc: dict, entries: list):
    """(kind, name, key-or-None, where) for every reference an object makes; entries: _scan's."""
    kind = doc["kind"]
    for path, key, value in entries:
        where = format_path(("spec",) + path + (key,), dotted=True)
        if key == "secretKeyRef" and isinstance(value, dict):
            yield "Secret", value.get("name"), value.get("key"), where
        elif key == "secretRef" and isinstance(value, dict):
            yield "Secret", value.get("name"), None, where
        elif key == "secret" and isinstance(value, dict) and "secretName" in value:  # a secret volume
            yield "Secret", value["secretName"], None, where
            for item in value.get("items") or []:
                yield "Secret", value["secretName"], item.get("key"), where
        elif key == "configMap" and isinstance(value, dict) and "name" in value:  # a ConfigMap volume
            yield "ConfigMap", value["name"], None, where
        elif key == "persistentVolumeClaim" and isinstance(value, dict):
            yield "PersistentVolumeClaim", value.get("claimName"), None, where
        elif key == "imagePullSecrets" and isinstance(value, list):
            for item in value:
                yield "Secret", item.get("name"), None, where
        elif key in ("apiToken", "webhookSecret") and kind == "EventSource":
            yield "Secret", value.get("name"), value.get("key"), where
        elif key == "serviceAccountName":
            yield "ServiceAccount", value, None, where
        elif key == "eventBusName":
            yield "EventBus", value, None, where
        elif key == "eventSourceName":
            yield "EventSource", value, None, where
        elif key == "workflowTemplateRef" and isinstance(value, dict):
            yield "WorkflowTemplate", value.get("name"), None, where
    yield from _kind_references(doc)


def _kind_references(doc: dict):
    """The references that one kind of object makes at its own fixed places."""
    kind = doc["kind"]
    if kind == "HorizontalPodAutoscaler":
        target = doc["spec"].get("scaleTargetRef") or {}
        yield target.get("kind"), target.get("name"), None, "spec.scaleTargetRef"
    spec = doc.get("spec") or {}
    if kind == "ExternalSecret":
        store = spec.get("secretStoreRef") or {}
        yield store.get("kind", "SecretStore"), store.get("name"), None, "spec.secretStoreRef"
    if kind == "SecretStore":
        auth = (((spec.get("provider") or {}).get("vault") or {}).get("auth") or {}).get("kubernetes") or {}
        if auth.get("serviceAccountRef"):
            yield "ServiceAccount", auth["serviceAccountRef"].get("name"), None, "spec.provider.vault.auth.kubernetes"
    if kind == "VaultStaticSecret":
        yield "VaultAuth", spec.get("vaultAuthRef"), None, "spec.vaultAuthRef"
        for i, target in enumerate(spec.get("rolloutRestartTargets") or []):
            yield target.get("kind"), target.get("name"), None, f"spec.rolloutRestartTargets[{i}]"
    if kind == "VaultAuth":
        yield "ServiceAccount", (spec.get("kubernetes") or {}).get("serviceAccount"), None, "spec.kubernetes.serviceAccount"
        if spec.get("vaultConnectionRef"):
            yield "VaultConnection", spec["vaultConnectionRef"], None, "spec.vaultConnectionRef"
    if kind == "StatefulSet":
        yield "Service", doc["spec"].get("serviceName"), None, "spec.serviceName"
    if kind == "IngressRoute":
        for r, route in enumerate(doc["spec"].get("routes", [])):
            for s, service in enumerate(route.get("services", [])):
                if service.get("kind", "Service") == "Service":
                    yield "Service", service.get("name"), None, f"spec.routes[{r}].services[{s}].name"
    if kind == "RoleBinding":
        yield doc["roleRef"]["kind"], doc["roleRef"]["name"], None, "roleRef"
        for subject in doc.get("subjects", []):
            if subject.get("kind") == "ServiceAccount":
                yield "ServiceAccount", subject.get("name"), None, "subjects"


def _defined(docs: list[dict]) -> dict[tuple, dict]:
    """(kind, namespace, name) -> object; an EventSource also defines the Service Argo Events makes
    for it, an ExternalSecret or VaultStaticSecret the Secret its operator writes."""
    out = {}
    for doc in docs:
        ns = doc["metadata"].get("namespace", "")
        out[(doc["kind"], ns, doc["metadata"]["name"])] = doc
        if doc["kind"] == "EventSource" and doc.get("spec", {}).get("service"):
            out[("Service", ns, doc["metadata"]["name"] + "-eventsource-svc")] = doc
        if doc["kind"] in _OPERATOR_KINDS:  # the Secret an operator writes, with the keys it writes
            from cmp_plugin.secrets.operators import destination_keys, destination_name

            produced = destination_keys(doc)
            out[("Secret", ns, destination_name(doc))] = {"stringData": dict.fromkeys(produced, "")}
    return out


def _secret_keys(secret: dict) -> set:
    return set(secret.get("data") or {}) | set(secret.get("stringData") or {})


def check(docs: list[dict], *, vault_prefix: str, resolved: bool) -> list[Problem]:
    """Every problem of the rendered objects; empty means they may be printed."""
    if not docs:
        return [run_problem("check: the render produced no objects; refusing empty output (Argo CD would prune everything)", "empty-output")]
    out: list[Problem] = []
    seen = set()
    for i, doc in enumerate(docs):
        meta = doc.get("metadata") if isinstance(doc, dict) else None
        if not isinstance(doc, dict) or not doc.get("apiVersion") or not doc.get("kind") \
                or not isinstance(meta, dict) or not meta.get("name"):
            out.append(run_problem(f"check: object #{i + 1} lacks apiVersion, kind or metadata.name", "object"))
            continue
        identity = _identity(doc)
        if identity in seen:
            out.append(run_problem(f"check: {doc['kind']} {meta['name']!r} is defined twice", "duplicate-object"))
        seen.add(identity)
    if out:
        return out
    defined = _defined(docs)
    scans = [_scan(doc) for doc in docs]
    for doc, (entries, _) in zip(docs, scans):
        ns, label = doc["metadata"].get("namespace", ""), f"{doc['kind']} {doc['metadata']['name']!r}"
        for kind, name, key, where in _references(doc, entries):
            target = defined.get((kind, ns, name))
            if target is None:
                out.append(run_problem(f"check: {label} {where} refers to {kind} {name!r}, which the output does not define", "reference"))
            elif kind == "Secret" and key is not None and key not in _secret_keys(target):
                out.append(run_problem(f"check: {label} {where} refers to key {key!r} of Secret {name!r}, which has no such key", "reference"))
    out += _selector_problems(docs)
    out += _placeholder_problems(docs, [found for _, found in scans], vault_prefix, resolved)
    return out


def _pod_labels(doc: dict) -> dict:
    spec = doc.get("spec") or {}
    if doc["kind"] == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}


def _selector_problems(docs: list[dict]) -> list[Problem]:
    """A Service, PodDisruptionBudget or NetworkPolicy naming pod labels selects the pods of exactly
    one workload (a NetworkPolicy for all pods, or for Argo's, names none)."""
    workloads = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet", "Job", "CronJob")]
    # (label, value) -> indexes of the workloads whose pods carry it: one lookup per selector
    # label instead of a scan of every workload for every selector
    carrying: dict = {}
    for index, workload in enumerate(workloads):
        for pair in _pod_labels(workload).items():
            try:
                carrying.setdefault(pair, []).append(index)
            except TypeError:  # an unhashable label value cannot equal a selector's string
                pass
    out = []
    for doc in docs:
        if doc["kind"] == "Service":
            selector = (doc.get("spec") or {}).get("selector")
        elif doc["kind"] == "PodDisruptionBudget":
            selector = ((doc.get("spec") or {}).get("selector") or {}).get("matchLabels")
        elif doc["kind"] == "NetworkPolicy":
            selector = ((doc.get("spec") or {}).get("podSelector") or {}).get("matchLabels")
        else:
            continue
        if not selector:
            continue
        chosen = None
        for pair in selector.items():
            try:
                found = carrying.get(pair, ()) if pair[1] is not None else None
            except TypeError:
                found = None
            if found is None:  # None (a missing label equals it) or unhashable: compare with each
                found = [i for i, w in enumerate(workloads) if _pod_labels(w).get(pair[0]) == pair[1]]
            chosen = set(found) if chosen is None else chosen & set(found)
            if not chosen:
                break
        chosen = [workloads[i] for i in sorted(chosen)]
        if len(chosen) != 1:
            names = ", ".join(f"{w['kind']} {w['metadata']['name']!r}" for w in chosen) or "none"
            out.append(run_problem(f"check: {doc['kind']} {doc['metadata']['name']!r} selects the pods of {len(chosen)} "
                                   f"workloads ({names}); expected exactly one", "selector"))
    return out


def _placeholder_problems(docs: list[dict], strings: list[list], vault_prefix: str, resolved: bool) -> list[Problem]:
    """strings: per object, _scan's strings that hold a placeholder."""
    out = []
    for doc, found in zip(docs, strings):
        label = f"{doc['kind']} {doc['metadata']['name']!r}"
        for path, value in found:
            where = format_path(path, dotted=True) or "(document)"
            if resolved:
                out.append(run_problem(f"check: {label} {where} still holds an unresolved Vault placeholder", "unresolved"))
                continue
            # the resolver reads placeholders only in a Secret's data and stringData values
            if doc["kind"] != "Secret" or len(path) != 2 or path[0] not in ("data", "stringData"):
                out.append(run_problem(f"check: {label} {where}: Vault placeholders are only allowed in Secret objects"
                                       " (the values of data and stringData)", "placeholder-scope"))
            for vault_path in vault_paths(value):
                vault_path = vault_path.strip()
                parts = vault_path.split("/")
                if not vault_path.startswith(vault_prefix + "/") or ".." in parts or "" in parts or "." in parts:
                    out.append(run_problem(f"check: {label} {where}: Vault path {vault_path!r} is outside the project's prefix {vault_prefix!r}/", "placeholder-scope"))
    return out
