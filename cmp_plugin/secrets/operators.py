"""Secrets that never pass through Argo CD: the rendered Secrets, whose values are `<path:P#K>`
placeholders, become objects of a secrets operator, which reads Vault itself.

- `external-secrets`: an ExternalSecret per Secret (same name, type and keys) and, per project, a
  SecretStore for Vault with Kubernetes auth as the project's own ServiceAccount.
- `vault-secrets-operator`: a VaultStaticSecret per Secret and, per project, a VaultAuth (and a
  VaultConnection when the platform names the address).

A value composed of text and placeholders (a database URL) becomes an operator template; the
only modifier such a value may use is `urlencode`, which both operators' Go templates express as
`urlquery` with `+` turned back into `%20` (Go's query escaping writes a space as `+`, and in a
URL's user information `+` is a plus sign). Nothing here ever sees a secret value.
"""

from __future__ import annotations

import re
from collections import namedtuple

from cmp_plugin.problems import Failure, run_problem
from cmp_plugin.secrets import grammar

RELOADER = "secret.reloader.stakater.com/reload"
PRUNE = "argocd.argoproj.io/sync-options"

# One key of a Secret: `vault_key` when the value is one placeholder, else `parts`: literal text
# and (vault_key, modifiers) pairs, in order.
Key = namedtuple("Key", "name vault_key parts")
Source = namedtuple("Source", "mount version path")  # a KV path as the operators address it


def kv_source(vault_path: str) -> Source:
    """`kv/data/shop/apps/web` -> mount `kv`, KV v2, path `shop/apps/web`; without `data` it is KV v1."""
    parts = vault_path.split("/")
    if len(parts) > 2 and parts[1] == "data":
        return Source(parts[0], 2, "/".join(parts[2:]))
    return Source(parts[0], 1, "/".join(parts[1:]))


def _keys(doc: dict) -> tuple[str, list[Key]]:
    """The one Vault path a rendered Secret reads, and how each of its keys is made."""
    label = f"Secret {doc['metadata']['name']!r}"
    paths, keys = set(), []
    for name, value in (doc.get("stringData") or {}).items():
        tokens = grammar.scan(value, generic=False)
        bad = [t for t in tokens if t.kind != "inline"]
        if bad or not tokens:
            raise Failure(run_problem(f"secrets: {label} key {name!r} is not made of Vault placeholders", "secrets-mode"))
        for token in tokens:
            paths.add(token.path.strip())
            stages = [s.strip() for s in token.stages]
            if any(s != "urlencode" for s in stages):
                raise Failure(run_problem(f"secrets: {label} key {name!r}: only the urlencode modifier can be "
                                          "expressed in an operator's template", "secrets-mode"))
        single = tokens[0]
        if len(tokens) == 1 and single.start == 0 and single.end == len(value) and not single.stages:
            keys.append(Key(name, single.key, ()))
            continue
        parts, at = [], 0
        for token in tokens:
            parts += [value[at:token.start], (token.key, tuple(s.strip() for s in token.stages))]
            at = token.end
        parts.append(value[at:])
        keys.append(Key(name, "", tuple(p for p in parts if p != "")))
    if len(paths) != 1:
        raise Failure(run_problem(f"secrets: {label} reads {len(paths)} Vault paths; an operator object reads one",
                                  "secrets-mode"))
    return paths.pop(), keys


def _go_text(text: str) -> str:
    """Literal text inside a Go template: `{{` would start an action."""
    return text.replace("{{", '{{ "{{" }}')


def _template(parts: tuple, lookup: str) -> str:
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(_go_text(part))
            continue
        vault_key, stages = part
        action = lookup.format(key=vault_key.replace("\\", "\\\\").replace('"', '\\"'))
        for _ in stages:  # urlencode: RFC 3986 escaping, as the inline resolver does it
            action += ' | urlquery | replace "+" "%20"'
        out.append("{{ " + action + " }}")
    return "".join(out)


def _metadata(doc: dict, kind_labels: dict) -> dict:
    meta = {"name": doc["metadata"]["name"], "namespace": doc["metadata"]["namespace"]}
    if kind_labels:
        meta["labels"] = dict(kind_labels)
    return meta


def external_secret(doc: dict, settings, store: str) -> dict:
    path, keys = _keys(doc)
    source = kv_source(path)
    data = [{"secretKey": k.name, "remoteRef": {"key": source.path, "property": k.vault_key}}
            for k in keys if k.vault_key]
    plain = {k.name for k in keys if k.vault_key}
    for k in keys:  # a composed key reads its inputs from the fetched data
        for part in k.parts:
            if not isinstance(part, str) and part[0] not in plain:
                data.append({"secretKey": part[0], "remoteRef": {"key": source.path, "property": part[0]}})
                plain.add(part[0])
    template = {"type": doc.get("type", "Opaque"), "engineVersion": "v2"}
    if doc["metadata"].get("labels"):
        template["metadata"] = {"labels": dict(doc["metadata"]["labels"])}
    composed = {k.name: _template(k.parts, 'index . "{key}"') for k in keys if not k.vault_key}
    if composed:
        template["mergePolicy"] = "Merge"  # the fetched keys stay beside the composed ones
        template["data"] = composed
    return {
        "apiVersion": f"external-secrets.io/{settings.external_secrets_api_version}",
        "kind": "ExternalSecret",
        "metadata": _metadata(doc, doc["metadata"].get("labels")),
        "spec": {
            "refreshInterval": settings.secrets_refresh_interval,
            "secretStoreRef": {"name": store, "kind": "SecretStore"},
            # Owner adopts a Secret that has no owner yet: the one Argo CD created in inline mode
            "target": {"name": doc["metadata"]["name"], "creationPolicy": "Owner", "template": template},
            "data": data,
        },
    }


def vault_static_secret(doc: dict, settings, auth: str, restart: list[dict]) -> dict:
    path, keys = _keys(doc)
    source = kv_source(path)
    same = [k.name for k in keys if k.vault_key and k.vault_key == k.name]
    templates = {}
    for k in keys:
        parts = k.parts if not k.vault_key or k.vault_key != k.name else None
        if k.vault_key and k.vault_key != k.name:
            parts = ((k.vault_key, ()),)
        if parts:
            templates[k.name] = {"text": _template(parts, 'get .Secrets "{key}"')}
    transformation: dict = {"excludeRaw": True}
    if same:
        transformation["includes"] = [f"^{re.escape(name)}$" for name in same]
    else:
        transformation["excludes"] = [".*"]
    if templates:
        transformation["templates"] = templates
    destination = {"name": doc["metadata"]["name"], "create": True,
                   # takes over the Secret Argo CD created in inline mode (docs/secrets-modes.md)
                   "overwrite": True, "type": doc.get("type", "Opaque"), "transformation": transformation}
    if doc["metadata"].get("labels"):
        destination["labels"] = dict(doc["metadata"]["labels"])
    spec = {"vaultAuthRef": auth, "mount": source.mount, "type": f"kv-v{source.version}", "path": source.path,
            "refreshAfter": settings.secrets_refresh_interval, "hmacSecretData": True, "destination": destination}
    if restart:
        spec["rolloutRestartTargets"] = restart
    return {"apiVersion": "secrets.hashicorp.com/v1beta1", "kind": "VaultStaticSecret",
            "metadata": _metadata(doc, doc["metadata"].get("labels")), "spec": spec}


def destination_keys(doc: dict) -> set[str] | None:
    """The keys of the Secret an ExternalSecret or VaultStaticSecret writes (None: not one of ours)."""
    spec = doc.get("spec") or {}
    if doc.get("kind") == "ExternalSecret":
        template = (spec.get("target") or {}).get("template") or {}
        return {d.get("secretKey") for d in spec.get("data") or []} | set(template.get("data") or {})
    if doc.get("kind") == "VaultStaticSecret":
        transformation = ((spec.get("destination") or {}).get("transformation") or {})
        names = {re.sub(r"\\(.)", r"\1", p[1:-1]) for p in transformation.get("includes") or []}
        return names | set(transformation.get("templates") or {})
    return None


def destination_name(doc: dict) -> str | None:
    spec = doc.get("spec") or {}
    if doc.get("kind") == "ExternalSecret":
        return (spec.get("target") or {}).get("name") or doc["metadata"]["name"]
    if doc.get("kind") == "VaultStaticSecret":
        return (spec.get("destination") or {}).get("name")
    return None


def _secret_users(docs: list[dict]) -> dict[str, list[tuple[str, str]]]:
    """Secret name -> the Deployments and StatefulSets whose containers read it (env or volumes)."""
    users: dict[str, list[tuple[str, str]]] = {}
    for doc in docs:
        if doc["kind"] not in ("Deployment", "StatefulSet"):
            continue
        pod = doc["spec"]["template"]["spec"]
        names = set()
        for container in pod.get("containers", []) + pod.get("initContainers", []):
            for env in container.get("env") or []:
                ref = (env.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    names.add(ref["name"])
            for source in container.get("envFrom") or []:
                if source.get("secretRef"):
                    names.add(source["secretRef"]["name"])
        for volume in pod.get("volumes") or []:
            if volume.get("secret"):
                names.add(volume["secret"]["secretName"])
        for name in names:
            users.setdefault(name, []).append((doc["kind"], doc["metadata"]["name"]))
    return users


def _project_objects(project, settings, labels: dict) -> list[dict]:
    names = project.names
    meta = lambda name: {"name": name, "namespace": project.namespace, "labels": dict(labels)}  # noqa: E731
    role = settings.secrets_vault_role.replace("{project}", project.name)
    source = kv_source(project.vault_prefix + "/x")
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(names["secrets_service_account"]),
               # the operator asks the API for this account's tokens; its pods mount none
               "automountServiceAccountToken": False}
    if settings.secrets_mode == "external-secrets":
        store = {"apiVersion": f"external-secrets.io/{settings.external_secrets_api_version}", "kind": "SecretStore",
                 "metadata": meta(names["secret_store"]),
                 "spec": {"provider": {"vault": {
                     "server": settings.secrets_vault_address, "path": source.mount, "version": f"v{source.version}",
                     "auth": {"kubernetes": {"mountPath": settings.secrets_vault_auth_mount, "role": role,
                                             "serviceAccountRef": {"name": names["secrets_service_account"],
                                                                   "audiences": ["vault"]}}}}}}}
        return [account, store]
    auth_spec = {"method": "kubernetes", "mount": settings.secrets_vault_auth_mount,
                 "kubernetes": {"role": role, "serviceAccount": names["secrets_service_account"], "audiences": ["vault"]}}
    out = [account]
    if settings.secrets_vault_address:
        auth_spec["vaultConnectionRef"] = names["secret_store"]
        out.append({"apiVersion": "secrets.hashicorp.com/v1beta1", "kind": "VaultConnection",
                    "metadata": meta(names["secret_store"]),
                    # required by the CRD; TLS is verified (a CA goes in the operator's defaults)
                    "spec": {"address": settings.secrets_vault_address, "skipTLSVerify": False}})
    out.append({"apiVersion": "secrets.hashicorp.com/v1beta1", "kind": "VaultAuth",
                "metadata": meta(names["secret_store"]), "spec": auth_spec})
    return out


def _has_placeholder(doc: dict) -> bool:
    return doc["kind"] == "Secret" and any(
        isinstance(v, str) and grammar.has_placeholder(v, False) for v in (doc.get("stringData") or {}).values())


def apply_mode(docs: list[dict], project, settings) -> list[dict]:
    """The rendered objects as the platform's secrets mode wants them (inline: unchanged, or
    marked Prune=false while moving to an operator)."""
    mode = settings.secrets_mode
    vaulted = [d for d in docs if _has_placeholder(d)]
    if mode == "inline":
        if settings.secrets_keep_on_removal:
            for doc in vaulted:
                doc["metadata"].setdefault("annotations", {})[PRUNE] = "Prune=false"
        return docs
    if not vaulted:
        return docs
    users = _secret_users(docs)
    vaulted_ids = {id(d) for d in vaulted}
    store = project.names["secret_store"]
    labels = vaulted[0]["metadata"].get("labels") or {}
    out = []
    for doc in docs:
        if id(doc) in vaulted_ids:
            name = doc["metadata"]["name"]
            if mode == "external-secrets":
                out.append(external_secret(doc, settings, store))
            else:
                restart = [{"kind": kind, "name": user} for kind, user in sorted(users.get(name, ()))]
                out.append(vault_static_secret(doc, settings, store, restart))
            continue
        if mode == "external-secrets" and settings.secrets_reload == "reloader" and doc["kind"] in ("Deployment", "StatefulSet"):
            used = sorted(n for n, who in users.items() if (doc["kind"], doc["metadata"]["name"]) in who
                          and any(v["metadata"]["name"] == n for v in vaulted))
            if used:
                doc["metadata"].setdefault("annotations", {})[RELOADER] = ",".join(used)
        out.append(doc)
    return out + _project_objects(project, settings, labels)
